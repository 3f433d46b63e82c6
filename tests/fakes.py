"""The one module of fakes: Rasa's HTTP API as the app uses it, behind httpx.MockTransport (no network, no model).

`FakeRasa` answers each message with `answer(text)` (by default "收到：…" with one button), records the messages in
`calls`, can hold every answer until `gate` is set or answer after `delay` seconds, honours pause/resume events like
Rasa (a paused tracker logs messages and answers nothing) and serves the tracker and triggered intents.
`ActingRasa` runs the handoff and rating actions the way the real model's rules would (转人工, 我要投诉, 再见, 我要评价,
a triggered offer_rating), gives real guide answers for two questions, and echoes the rest. `WebhookRasa` calls the
real custom actions through the app's action endpoint executor with the outcome note, as Rasa calls /webhook, for the
intents and actions the model would find (`TURNS`). None runs forms: the flows that are Rasa forms are tested against
the real model in tests/integration.
Tests that need Rasa itself start it (tests/integration/conftest.py)."""
from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable
from typing import Any

import httpx
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.rasa_client import RasaClient

PROCEDURE = {"title": "办理流程", "payload": "/ask_procedure"}


def received(text: str) -> list[dict[str, Any]]:
    return [{"text": f"收到：{text}", "buttons": [PROCEDURE]}]


class FakeRasa:
    def __init__(self, answer: Callable[[str], list[dict[str, Any]]] = received, delay: float = 0.0):
        self.answer = answer
        self.delay = delay
        self.gate: threading.Event | None = None
        self.calls: list[str] = []  # every message, in order
        self.logged: dict[str, list[str]] = {}  # messages per conversation, as the tracker logs them
        self.events: list[tuple[str, str]] = []  # (conversation id, "pause" | "resume")
        self.paused: set[str] = set()
        self.slots: dict[str, dict[str, Any]] = {}  # per conversation, as actions set them
        self.down = False  # answer messages with 500, as a failing Rasa does

    def client(self) -> RasaClient:
        return RasaClient("http://rasa.test", transport=httpx.MockTransport(self))

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/status":
            return httpx.Response(200, json={"model_file": "current.tar.gz"})
        match = re.match(r"^/conversations/(.+)/(tracker/events|tracker|trigger_intent)$", path)
        if match and match.group(2) == "tracker/events":
            sender, kind = match.group(1), json.loads(request.content)["event"]
            self.events.append((sender, kind))
            (self.paused.add if kind == "pause" else self.paused.discard)(sender)
            return httpx.Response(200, json={"sender_id": sender})
        if match and match.group(2) == "tracker":
            return httpx.Response(200, json=self.tracker(match.group(1)))
        if match:
            body = json.loads(request.content)
            messages = [] if match.group(1) in self.paused else await self.trigger(match.group(1), body["name"], body.get("entities") or {})
            return httpx.Response(200, json={"tracker": {}, "messages": messages})
        body = json.loads(request.read())
        sender, text = body["sender"], body["message"]
        self.calls.append(text)
        self.logged.setdefault(sender, []).append(text)
        while self.gate is not None and not self.gate.is_set():
            await asyncio.sleep(0.01)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.down:
            return httpx.Response(500, json={"error": "down"})
        if sender in self.paused:
            return httpx.Response(200, json=[])
        return httpx.Response(200, json=await self.reply(sender, text))

    def intent_of(self, text: str) -> str:
        return "ask_item"

    def tracker(self, sender: str) -> dict[str, Any]:
        events = [{"event": "user", "text": t, "parse_data": {"intent": {"name": self.intent_of(t), "confidence": 0.93}}}
                  for t in self.logged.get(sender, [])]
        return {"sender_id": sender, "paused": sender in self.paused, "events": events, "slots": {"item": None}}

    async def reply(self, sender: str, text: str) -> list[dict[str, Any]]:
        return self.answer(text)

    async def trigger(self, sender: str, intent: str, entities: dict[str, Any]) -> list[dict[str, Any]]:
        return []


class ActingRasa(FakeRasa):
    INTENTS = {"转人工": "request_human", "我要投诉": "complain", "再见": "goodbye", "我要评价": "rate_service"}
    GUIDES = {"低保要什么材料": "最低生活保障", "身份证要什么材料": "居民身份证办理（包括临时）"}

    def __init__(self) -> None:
        super().__init__(answer=lambda text: [{"text": f"机器人答复：{text}"}])
        self.intents: dict[str, list[str]] = {}  # the intents that ran an action, per conversation

    def intent_of(self, text: str) -> str:
        return self.INTENTS.get(text, "nlu_fallback" if text.startswith("嗯") else "rate_service" if "满意" in text else "ask_item")

    async def reply(self, sender: str, text: str) -> list[dict[str, Any]]:
        from actions.guides import ActionFallbackSearch
        from actions.handoff import ActionRequestHuman
        from actions.ratings import ActionOfferRating
        from knowledge.answers import answer
        from knowledge.service import get_index

        intent, entities = self.intent_of(text), []
        payload = re.match(r"^/(\w+)(\{.*\})?$", text)  # "/request_human{...}": an intent and entities, as Rasa reads it
        if payload:
            intent = payload.group(1)
            entities = [{"entity": k, "value": v} for k, v in json.loads(payload.group(2) or "{}").items()]
        action = {"request_human": ActionRequestHuman(), "complain": ActionRequestHuman(), "goodbye": ActionOfferRating(),
                  "rate_service": ActionOfferRating(), "nlu_fallback": ActionFallbackSearch()}.get(intent)
        if action is None and text in self.GUIDES:  # a real guide answer, as action_answer_guide gives it
            reply = answer(get_index().kb.by_name(self.GUIDES[text]), "materials")
            return [{"recipient_id": sender, "text": reply.text, "buttons": reply.buttons}]
        if action is None:
            return self.answer(text)
        out = [{"recipient_id": sender, "text": "再见，祝您办事顺利！"}] if intent == "goodbye" else []
        return out + await self.run(action, sender, text, intent, entities)

    async def trigger(self, sender: str, intent: str, entities: dict[str, Any]) -> list[dict[str, Any]]:
        from actions.ratings import ActionOfferRating

        assert intent == "offer_rating", intent
        listed = [{"entity": k, "value": v} for k, v in entities.items()]
        return await self.run(ActionOfferRating(), sender, f"/{intent}", intent, listed)

    async def run(self, action: Any, sender: str, text: str, intent: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.intents.setdefault(sender, []).append(intent)
        events = [{"event": "user", "parse_data": {"intent": {"name": i}}} for i in self.intents[sender]]
        slots = self.slots.setdefault(sender, {})
        tracker = Tracker(sender, dict(slots), {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities},
                          events, False, None, {}, "action_listen")
        dispatcher = CollectingDispatcher()
        for event in await action.run(dispatcher, tracker, {}):
            if event.get("event") == "slot":
                slots[event["name"]] = event["value"]
        return [{"recipient_id": sender, "custom": m["custom"]} if m.get("custom") else
                {"recipient_id": sender, "text": m.get("text"), "buttons": m.get("buttons") or []} for m in dispatcher.messages]


# text -> (intent, action) as the trained model would classify and predict them
TURNS = {
    "身份证丢了要带什么材料": ("ask_materials", "action_answer_guide"),
    "办证": ("ask_item", "action_answer_guide"),
    "我想在月球上开个火锅店咋个弄": ("ask_item", "action_answer_guide"),
    "转人工": ("request_human", "action_request_human"),
    "确认预约": ("affirm", "action_submit_booking"),
    "你好": ("greet", "action_small_talk"),
    "城南菜市场几点关门": ("out_of_scope", "action_small_talk"),
}


class WebhookRasa(FakeRasa):
    def __init__(self) -> None:
        super().__init__()
        self.booking_slots: dict[str, Any] = {}  # what the booking form collected, for "确认预约"

    def intent_of(self, text: str) -> str:
        return TURNS.get(text, ("ask_item", ""))[0]

    async def reply(self, sender: str, text: str) -> list[dict[str, Any]]:
        from bot.action_webhook import executor
        from bot.insight import outcomes

        intent, action = TURNS.get(text, ("ask_item", "action_answer_guide"))
        slots = {"item": None, "aspect": None, "candidates": None, **(self.booking_slots if action == "action_submit_booking" else {})}
        call = {"next_action": action, "sender_id": sender, "version": "3.6.2", "domain": {},
                "tracker": {"sender_id": sender, "slots": slots, "paused": False, "followup_action": None, "active_loop": {},
                            "latest_action_name": "action_listen", "events": [{"event": "user", "text": text,
                                                                               "parse_data": {"intent": {"name": intent}}}],
                            "latest_message": {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []}}}
        result = outcomes.add_note(call, await executor.run(call))  # what /webhook answers Rasa
        return [{"recipient_id": sender, "custom": m["custom"]} if m.get("custom") else
                {"recipient_id": sender, "text": m.get("text"), "buttons": m.get("buttons") or []}
                for m in result["responses"] if m.get("custom") or m.get("text") or m.get("buttons")]
