"""Handoff to a person and complaints: thin actions around the app's handoff desk (bot/handoff)."""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.desk import escalate
from actions.guides import answer_question
from actions.service_question import is_service_question
from bot.booking.service import books_in_words

logger = logging.getLogger(__name__)
REASONS = ("asked", "complaint", "sensitive", "fallback")


class ActionRequestHuman(Action):
    """Asked for a person or complaining: into the operators' queue (complaints first), or a work order off duty."""

    def name(self) -> str:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        text = tracker.latest_message.get("text") or ""
        if is_service_question(intent, text):  # a situation, neither complaint nor plea: answered, or booked
            return [FollowupAction("action_start_booking")] if books_in_words(text) else answer_question(dispatcher, tracker)
        reason = next((e.get("value") for e in tracker.latest_message.get("entities") or [] if e.get("entity") == "handoff_reason"),
                      None)  # "sensitive": sent by the desk instead of words with a sensitive word (bot/handoff/desk.py)
        return await escalate(dispatcher, tracker, reason if reason in REASONS else "complaint" if intent == "complain" else "asked")
