"""What each citizen turn came to: answered (item, aspect), options offered, not found, handed over, booked, ...

Rasa's actions run behind the app's action endpoint; after an action that answered the citizen, the endpoint adds a
small note to its responses (`note_for_action`: a custom message {"insight": {...}}), which Rasa passes back with the
turn's messages to whichever app process sent the turn. `of_rasa_turn` reads the notes (and the handoff signal of the
replies) into one `Outcome`, `record` stores it beside the message log. Nothing personal is stored but the masked
question (bot/privacy.py), which the review inbox groups.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.handoff.texts import NO_THANKS, offline
from bot.insight import metrics
from bot.insight.models import TurnOutcome
from bot.messages import Reply
from bot.privacy import mask

logger = logging.getLogger(__name__)
QUESTION_CHARS = 200
NOTE = "insight"  # the key of the note in a custom message
# actions that answer a service question: with no item and no options set, the question was not found
GUIDE_ACTIONS = {"action_answer_guide", "action_choose_item", "action_fallback_search", "action_request_human",
                 "action_goodbye", "action_small_talk", "action_start_booking", "action_route_change", "action_start_manage",
                 "action_start_appeal"}
BOOKING_ACTIONS = {"action_submit_booking"}
PRIORITY = ["booked", "handed_over", "answered", "options", "not_found"]  # one turn, several notes: the first wins
# the next message says the answer was wrong, or asks for a person
DISPUTE = re.compile(r"不对|不是这个|不是我要|不是我问|答非所问|没用|没有用|牛头不对马嘴|看不懂|说的不是")
PERSON = re.compile(r"人工|真人|转人|客服|坐席|找个人|叫个人|接线员")
REVIEWABLE = ("answered", "options", "not_found")


@dataclass
class Outcome:
    kind: str = "other"
    item_id: str | None = None
    item_name: str | None = None
    aspect: str | None = None
    options: list[str] = field(default_factory=list)
    confidence: float | None = None
    intent: str | None = None


def _slots(events: list[dict[str, Any]]) -> dict[str | None, Any]:
    """The slots an action set, the last value of each."""
    return {e.get("name"): e.get("value") for e in events or [] if isinstance(e, dict) and e.get("event") == "slot"}


def note_for_action(action_call: dict[str, Any], result: dict[str, Any]) -> dict[str, Any] | None:
    """The outcome note of one action's result, or None (an action that said nothing, or none about an item)."""
    name = action_call.get("next_action")
    if name not in GUIDE_ACTIONS | BOOKING_ACTIONS or not result.get("responses"):
        return None
    tracker = action_call.get("tracker") or {}
    latest = tracker.get("latest_message") or {}
    intent = (latest.get("intent") or {}).get("name")
    slots = _slots(result.get("events") or [])
    noted = [r["custom"][NOTE] for r in result["responses"] if isinstance(r.get("custom"), dict) and isinstance(r["custom"].get(NOTE), dict)]
    if noted:  # the action noted its outcome itself (a pinned answer, actions/guides.py)
        noted[-1].setdefault("intent", intent)
        return None
    if name in BOOKING_ACTIONS:
        return {"kind": "booked", "intent": intent} if slots.get("manage_code") else None
    note: dict[str, Any] = {"intent": intent}
    if _escalated(result["responses"]):
        note.update(kind="handed_over")
    elif slots.get("item"):
        note.update(kind="answered", item=slots["item"],
                    aspect=slots.get("aspect") or (tracker.get("slots") or {}).get("aspect") or "item")
        note["confidence"] = _confidence(latest.get("text") or "", slots["item"])
    elif slots.get("candidates"):
        note.update(kind="options", options=list(slots["candidates"])[:10])
    elif name in ("action_answer_guide", "action_choose_item", "action_fallback_search") and "item" not in slots:
        note.update(kind="not_found")
    elif "item" in slots or "aspect" in slots:  # the item asked about left the knowledge base
        note.update(kind="not_found")
    elif name == "action_small_talk" and intent == "out_of_scope":  # declined as outside government services: a
        note.update(kind="not_found")  # question the assistant could not answer, which staff see in the review inbox
    else:
        return None
    return note


def _escalated(responses: list[dict[str, Any]]) -> bool:
    """Whether the desk took the citizen towards a person: queued or transferred (the handoff signal), or, with nobody
    on duty, offered a message or a callback work order (its 留言 / 预约回电 buttons)."""
    offer = {button.payload for button in offline("", False, "").buttons} - {NO_THANKS.payload}
    for response in responses:
        if isinstance(response.get("custom"), dict) and response["custom"].get("action") == "handoff":
            return True
        if offer <= {b.get("payload") for b in response.get("buttons") or [] if isinstance(b, dict)}:
            return True
    return False


def _confidence(text: str, item_id: str) -> float | None:
    """The search score of the answered item for the question (the search remembers the turn's question, so this
    costs no second search); None for a button or a follow-up that does not name it."""
    if not text or text.startswith("/"):
        return None
    from knowledge.service import get_index

    for hit in get_index().search(text, top=20):
        if hit.entry.id == item_id:
            return round(hit.score, 4)
    return None


def add_note(action_call: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """The action's result with its outcome note as one more custom message (never fails the action)."""
    try:
        note = note_for_action(action_call, result)
    except Exception:  # noqa: BLE001 - a figure is not worth an answer
        logger.exception("outcome note failed for %s", action_call.get("next_action"))
        return result
    if note is not None:
        result["responses"] = [*result["responses"], {"text": None, "buttons": [], "elements": [], "custom": {NOTE: note},
                                                      "template": None, "response": None, "image": None, "attachment": None}]
    return result


def of_rasa_turn(raw: list[dict[str, Any]], replies: list[Reply]) -> Outcome:
    """One Rasa turn's outcome, from the actions' notes and the replies (a handoff signal means handed over)."""
    try:
        return _of_rasa_turn(raw, replies)
    except Exception:  # noqa: BLE001 - a figure is not worth an answer
        logger.exception("could not read a turn's outcome")
        return Outcome("other")


def _of_rasa_turn(raw: list[dict[str, Any]], replies: list[Reply]) -> Outcome:
    notes = [m["custom"][NOTE] for m in raw if isinstance(m.get("custom"), dict) and isinstance(m["custom"].get(NOTE), dict)]
    if _escalated([r.model_dump() for r in replies]) or any(r.action == "handoff" for r in replies):
        notes.append({"kind": "handed_over"})
    notes = [n for n in notes if n.get("kind") in PRIORITY]
    if not notes:
        return Outcome("other")
    rank = {kind: n for n, kind in enumerate(PRIORITY)}
    best = min(reversed(notes), key=lambda n: rank[n["kind"]])  # the last note of the highest kind
    outcome = Outcome(best["kind"], item_id=best.get("item"), aspect=best.get("aspect"), options=best.get("options") or [],
                      confidence=best.get("confidence"), intent=next((n.get("intent") for n in notes if n.get("intent")), None))
    if outcome.item_id:
        from knowledge.service import get_index

        entry = get_index().kb.by_id(outcome.item_id)
        outcome.item_name = entry.name if entry else None
    return outcome


def of_desk_turn(status: str, replies: list[Reply]) -> Outcome:
    """A turn the handoff desk answered instead of Rasa."""
    if status == "to_operator":
        return Outcome("operator")
    if _escalated([r.model_dump() for r in replies]) or any(r.action == "handoff" for r in replies):
        return Outcome("handed_over")
    return Outcome("other")


_INSERT_OUTCOME = insert(cast(Table, TurnOutcome.__table__))  # built once; plain INSERT, as the messages of a turn


def record(*, db_session: Session | Connection, conversation_id: str, message_id: int | None, channel: str, text: str, outcome: Outcome,
           latency_ms: int | None = None) -> None:
    """Store a turn's outcome; a message that disputes the previous answer or asks for a person marks that turn."""
    follow = "dispute" if DISPUTE.search(text or "") else "person" if PERSON.search(text or "") else None
    if follow:
        previous = db_session.scalar(select(TurnOutcome.id).where(TurnOutcome.conversation_id == conversation_id)
                                     .order_by(TurnOutcome.id.desc()).limit(1))
        if previous is not None:
            db_session.execute(update(TurnOutcome).where(TurnOutcome.id == previous, TurnOutcome.outcome.in_(REVIEWABLE),
                                                         TurnOutcome.followed_by.is_(None)).values(followed_by=follow))
    db_session.execute(_INSERT_OUTCOME, {
        "conversation_id": conversation_id, "message_id": message_id, "channel": channel, "outcome": outcome.kind,
        "item_id": outcome.item_id, "item_name": outcome.item_name, "aspect": outcome.aspect, "options": outcome.options or None,
        "confidence": outcome.confidence, "intent": outcome.intent, "question": mask(text or "")[:QUESTION_CHARS],
        "latency_ms": latency_ms, "created_at": utcnow()})


def counted(*, channel: str, text: str, outcome: Outcome, started: float | None = None) -> dict[str, Any]:
    """Count the turn (bot/insight/metrics.py) and return `record`'s arguments for it, with its latency."""
    seconds = time.monotonic() - started if started is not None else None
    metrics.count_turn(channel, outcome.kind, seconds)
    return {"channel": channel, "text": text, "outcome": outcome, "latency_ms": None if seconds is None else int(seconds * 1000)}
