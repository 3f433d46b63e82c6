"""Guide answers: which item, which aspect, answered only from the knowledge base."""
from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import escalate
from knowledge.answers import ASPECTS, Answer, answer, choose, unknown
from knowledge.normalize import normalize
from knowledge.service import get_index

ORDINALS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5}
_ORDINAL_RE = re.compile(r"^(?:选|就是|是)?第?([一二两三四五1-5])(?:个|项|条|号)?$")
VAGUE_LENGTH = 4  # a normalised question this short that fits several items is vague ("办证")
SWITCH_SCORE = 0.3  # with an item in context, a looser match than this does not change the subject


def aspect_of(intent: str | None) -> str:
    """ask_fee → fee; anything else asks for the overview."""
    aspect = (intent or "").removeprefix("ask_")
    return aspect if aspect in ASPECTS else "item"


def latest_intent(tracker: Tracker) -> str | None:
    """The intent of the latest message as classified (a button's /intent included)."""
    return (tracker.latest_message.get("intent") or {}).get("name")


def say(dispatcher: CollectingDispatcher, reply: Answer) -> None:
    dispatcher.utter_message(text=reply.text, buttons=reply.buttons or None)


def chosen_item_id(tracker: Tracker) -> str | None:
    """The item the citizen picked: a button's item_id, or "第二个" / "2" among the offered candidates."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "item_id":
            return entity.get("value")
    match = _ORDINAL_RE.match(normalize(tracker.latest_message.get("text") or ""))
    candidates = tracker.get_slot("candidates") or []
    if match and 1 <= ORDINALS[match.group(1)] <= len(candidates):
        return candidates[ORDINALS[match.group(1)] - 1]
    return None


def respond(dispatcher: CollectingDispatcher, tracker: Tracker, aspect: str) -> list[dict[str, Any]]:
    """Resolve the item from the text (or keep the one in context) and answer the aspect."""
    index = get_index()
    text = tracker.latest_message.get("text") or ""
    current = index.kb.by_id(tracker.get_slot("item") or "")
    resolution = index.resolve(text) if not text.startswith("/") else None
    if resolution is not None and resolution.kind == "answer":
        entry = resolution.entry
    elif resolution is not None and resolution.kind == "choose" and (current is None or resolution.hits[0].score >= SWITCH_SCORE):
        entries = [h.entry for h in resolution.hits]
        say(dispatcher, choose(entries, question_is_vague=len(normalize(text)) <= VAGUE_LENGTH))
        return [SlotSet("candidates", [e.id for e in entries]), SlotSet("aspect", aspect)]
    elif current is not None:
        entry = current
    else:
        say(dispatcher, unknown())
        return [SlotSet("aspect", aspect)]
    say(dispatcher, answer(entry, aspect))
    return [SlotSet("item", entry.id), SlotSet("aspect", aspect), SlotSet("candidates", None)]


class ActionAnswerGuide(Action):
    """Answer the asked aspect (materials, steps, time, fee, place, online, visits) of an item."""

    def name(self) -> str:
        return "action_answer_guide"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        return respond(dispatcher, tracker, aspect_of(latest_intent(tracker)))


class ActionChooseItem(Action):
    """The citizen picked one of the offered items: answer what they had asked about it."""

    def name(self) -> str:
        return "action_choose_item"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        entry = get_index().kb.by_id(chosen_item_id(tracker) or "")
        if entry is None:
            candidates = [get_index().kb.by_id(i) for i in tracker.get_slot("candidates") or []]
            if any(candidates):
                say(dispatcher, choose([c for c in candidates if c], question_is_vague=True))
            else:
                say(dispatcher, unknown())
            return []
        aspect = tracker.get_slot("aspect") or "item"
        say(dispatcher, answer(entry, aspect))
        return [SlotSet("item", entry.id), SlotSet("candidates", None)]


class ActionFallbackSearch(Action):
    """Not sure what was meant: try the knowledge base; after two misses in a row, offer a person."""

    def name(self) -> str:
        return "action_fallback_search"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        resolution = get_index().resolve(text)
        # the intent classifier's best guess below the threshold still tells which aspect was likely asked
        aspect = aspect_of(tracker.get_intent_of_latest_message(skip_fallback_intent=True))
        if resolution.kind == "answer":
            say(dispatcher, answer(resolution.entry, aspect))
            return [SlotSet("item", resolution.entry.id), SlotSet("aspect", aspect)]
        if resolution.kind == "choose":
            entries = [h.entry for h in resolution.hits]
            say(dispatcher, choose(entries, question_is_vague=len(normalize(text)) <= VAGUE_LENGTH))
            return [SlotSet("candidates", [e.id for e in entries]), SlotSet("aspect", aspect)]
        user_intents = [e.get("parse_data", {}).get("intent", {}).get("name") for e in tracker.events if e.get("event") == "user"]
        if user_intents[-2:] == ["nlu_fallback", "nlu_fallback"]:
            await escalate(dispatcher, tracker, "fallback")  # two misses in a row: to a person, or a work order off duty
            return []
        dispatcher.utter_message(
            text="抱歉，我没太明白您的意思。您可以直接说想办的事情，比如“身份证丢了怎么补办”“开个体户要带什么材料”。",
        )
        return []
