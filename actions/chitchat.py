"""Greetings, chitchat and out-of-scope messages: the canned response from domain.yml, unless the message also asks
about a service ("喂你好 我想问下低保咋个申请"), which then gets the guide answer."""
from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.guides import aspect_of, respond
from knowledge.answers import aspect_in
from knowledge.normalize import normalize
from knowledge.service import get_index

_SMALL_TALK = re.compile(r"喂+|你好|您好|在吗|在不在|有人吗|哈喽|早上好|下午好|晚上好|请问|打扰了|麻烦问一下|问一下|我想问")
RESPONSES = {"greet": "utter_greet", "chitchat": "utter_chitchat", "out_of_scope": "utter_out_of_scope"}


def asks_about_a_service(text: str) -> bool:
    """More than small talk: the rest of the message resolves to one item of the knowledge base."""
    rest = _SMALL_TALK.sub("", normalize(text))
    return len(rest) >= 4 and get_index().resolve(text).kind == "answer"


class ActionSmallTalk(Action):
    """Greet, chat or decline, or answer the service question the message carries."""

    def name(self) -> str:
        return "action_small_talk"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        intent = (tracker.latest_message.get("intent") or {}).get("name") or "greet"
        if not text.startswith("/") and asks_about_a_service(text):
            return respond(dispatcher, tracker, aspect_of("ask_" + (aspect_in(text) or "item")))
        dispatcher.utter_message(response=RESPONSES.get(intent, "utter_greet"))
        return []
