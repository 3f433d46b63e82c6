"""The handoff desk as actions use it: its replies said through Rasa's dispatcher, escalation to a person, and what
a citizen hears when the desk cannot be reached."""
from __future__ import annotations

import logging

from rasa_sdk import Tracker
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
