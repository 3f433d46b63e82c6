"""Greetings, chitchat, out-of-scope messages and goodbyes: the canned response from domain.yml, unless the message
also asks about a service ("喂你好 我想问下低保咋个申请"), which then gets the guide answer."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.guides import answer_question
from actions.service_question import asks_about_a_service, is_service_question
from bot.booking.service import names_a_booking

RESPONSES = {"greet": "utter_greet", "chitchat": "utter_chitchat", "out_of_scope": "utter_out_of_scope"}


class ActionSmallTalk(Action):
    """Greet, chat or decline, or answer the service question the message carries."""

    def name(self) -> str:
        return "action_small_talk"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        intent = (tracker.latest_message.get("intent") or {}).get("name") or "greet"
        if not text.startswith("/") and asks_about_a_service(text):
            return answer_question(dispatcher, tracker)
        dispatcher.utter_message(response=RESPONSES.get(intent, "utter_greet"))
        return []


class ActionGoodbye(Action):
    """Say goodbye (the rating invitation follows, action_offer_rating), unless the message said no goodbye word and is
    about a service: then it is answered and the turn ends there."""

    def name(self) -> str:
        return "action_goodbye"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        if names_a_booking(tracker.latest_message.get("text") or ""):  # "不约了，退掉，A92TUS，180…": about that booking
            return [FollowupAction("action_start_manage")]
        if is_service_question("goodbye", tracker.latest_message.get("text") or ""):
            return answer_question(dispatcher, tracker) + [FollowupAction("action_listen")]
        dispatcher.utter_message(response="utter_goodbye")
        return []
