"""The app asks a citizen to rate without being asked (an operator closed their conversation, a department's answer
to their appeal reached them): Rasa's offer_rating intent starts the rating form in the conversation's own tracker
(actions/ratings.py), and what Rasa says is delivered through the conversation's channel (bot/delivery.py)."""
from __future__ import annotations

import logging

from bot.conversations.service import rasa_lock
from bot.delivery import Deliveries
from bot.messages import Reply, replies_from_rasa
from bot.rasa_client import RasaClient, RasaError

logger = logging.getLogger(__name__)


class RatingInvitations:
    def __init__(self, rasa: RasaClient, deliveries: Deliveries):
        self.rasa, self.deliveries = rasa, deliveries

    async def invite(self, conversation_id: str, subject: str, fallback: Reply | None = None) -> None:
        """Start the rating of `subject` ("handoff:<id>", "appeal:<number>") in Rasa and deliver its invitation. When Rasa
        cannot be reached, `fallback` is delivered instead: a level said in words is still taken (rate_service)."""
        try:
            async with rasa_lock(conversation_id):
                replies = replies_from_rasa(await self.rasa.trigger_intent(conversation_id, "offer_rating",
                                                                           {"rating_subject": subject}))
        except RasaError as exc:
            logger.warning("the rating of %s could not be started in Rasa for %s: %s", subject, conversation_id, exc)
            replies = []
        for reply in replies or ([fallback] if fallback is not None else []):
            await self.deliveries.to_conversation(conversation_id, reply)
