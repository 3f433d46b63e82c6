"""Operator assist: beside a conversation an operator has taken over, what the assistant would say to the
citizen's last question (the grounded guide answer and the top guide matches) and, for an appeal, the suggested
category and department with the words that decided it. The operator inserts the answer or files the appeal with
one click (bot/handoff/views.py)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversations.models import Message
from bot.privacy import mask
from knowledge.answers import answer as guide_answer
from knowledge.answers import aspect_in
from knowledge.service import get_index

if TYPE_CHECKING:
    from bot.appeals.office import AppealOffice

LOOK_BACK = 6  # the citizen's last few messages: "不对，我问的是…" often follows the question itself
APPEAL_CONFIDENCE = 0.35  # below it the suggestion is not shown (a question about a guide is not an appeal)


def last_question(session: Session, conversation_id: str) -> str:
    """The citizen's latest message with some substance (not "好的", not a rating level)."""
    texts = session.scalars(select(Message.text).where(Message.conversation_id == conversation_id, Message.direction == "in")
                            .order_by(Message.id.desc()).limit(LOOK_BACK))
    for text in texts:
        if text and len(text.strip()) >= 4:
            return text.strip()
    return ""


def assist(session: Session, conversation_id: str, office: AppealOffice) -> dict[str, Any]:
    question = last_question(session, conversation_id)
    result: dict[str, Any] = {"question": mask(question), "answer": None, "matches": [], "appeal": None}
    if not question:
        return result
    index = get_index()
    hits = index.search(question, top=3)
    result["matches"] = [{"item": hit.entry.name, "id": hit.entry.id, "score": round(hit.score, 2)} for hit in hits]
    resolution = index.resolve(question)
    entry = resolution.entry  # None unless the resolution is an answer
    if entry is not None and entry.has_guide:
        aspect = aspect_in(question) or "item"
        result["answer"] = {"item": entry.name, "aspect": aspect, "text": guide_answer(entry, aspect).text}
    classification = office.classify(question)
    if classification.confidence >= APPEAL_CONFIDENCE or resolution.kind == "none":
        result["appeal"] = {**classification.as_dict(), "what": mask(question)}
    return result
