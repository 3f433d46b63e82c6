"""Handoff to a person, complaints and ratings: thin actions around the app's handoff desk (bot/handoff)."""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.errors import AppError
from bot.messages import Reply
from bot.services import current
from knowledge.county import county

logger = logging.getLogger(__name__)


def utter(dispatcher: CollectingDispatcher, replies: list[Reply]) -> None:
    """The desk's replies as Rasa messages; a reply's action ("handoff") follows it as a custom message."""
    for reply in replies:
        dispatcher.utter_message(text=reply.text, buttons=[b.model_dump() for b in reply.buttons] or None)
        if reply.action:
            dispatcher.utter_message(json_message={"action": reply.action})


def desk_unavailable(dispatcher: CollectingDispatcher, error: Exception) -> None:
    logger.error("handoff desk failed: %r", error)
    dispatcher.utter_message(text=f"抱歉，在线人工客服暂时无法接入。请拨打{county()['热线']}热线，由人工客服为您服务。")
    dispatcher.utter_message(json_message={"action": "handoff"})


async def escalate(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str) -> None:
    """Queue for an operator on duty, or offer a message or callback work order off duty."""
    try:
        utter(dispatcher, await current().desk.escalate(tracker.sender_id, reason))
    except (AppError, RuntimeError) as error:
        desk_unavailable(dispatcher, error)


class ActionRequestHuman(Action):
    """Asked for a person or complaining: into the operators' queue (complaints first), or a work order off duty."""

    def name(self) -> str:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        await escalate(dispatcher, tracker, "complaint" if intent == "complain" else "asked")
        return []


class ActionOfferRating(Action):
    """Rate the service (服务评价): record the level the citizen named, or offer the five levels (also after goodbye)."""

    def name(self) -> str:
        return "action_offer_rating"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        goodbye = (tracker.latest_message.get("intent") or {}).get("name") == "goodbye"
        try:
            utter(dispatcher, await current().desk.rate_or_offer(tracker.sender_id, tracker.latest_message.get("text") or "", goodbye))
        except (AppError, RuntimeError) as error:
            logger.error("rating failed: %r", error)
            if not goodbye:
                dispatcher.utter_message(text=f"抱歉，评价暂时无法记录。您的意见可以拨打{county()['热线']}热线反映。")
        return []
