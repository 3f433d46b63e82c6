"""The outcome of each citizen turn (what the assistant did with it), and whether a booked citizen came."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.clock import utcnow
from bot.db import Base

# What a turn came to; the labels are what the console shows.
OUTCOMES = {
    "answered": "已解答",  # one item's aspect answered
    "options": "给出选项",  # several items offered to choose from
    "not_found": "未找到",  # no item fits the question
    "handed_over": "转人工",  # queued for an operator, transferred, or offered a message or callback
    "booked": "已预约",  # a "5+X" appointment booked
    "operator": "人工服务中",  # the message went to the operator serving the conversation
    "other": "其他",  # greeting, chit-chat, a booking form's question, the desk's own questions
    "rejected": "无效消息",  # empty or too long
    "busy": "繁忙未处理",  # overload: the citizen was asked to send it again
    "error": "出错",  # Rasa down or failing
}
FOLLOW_UPS = {"dispute": "随后说“不对”", "person": "随后要求人工"}
ATTENDANCE = {"attended": "已到场", "no_show": "未到场（爽约）"}


class TurnOutcome(Base):
    """One citizen message and what came of it. Holds no personal data beyond the masked question (ID numbers,
    phones and names masked by bot/privacy.py), which the review inbox groups."""

    __tablename__ = "turn_outcomes"
    __table_args__ = (
        Index("ix_turn_outcomes_created", "created_at"),
        Index("ix_turn_outcomes_conversation", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the inbound message in `messages`
    channel: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    item_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    aspect: Mapped[str | None] = mapped_column(String(16), nullable=True)
    options: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # item ids offered
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)  # search score of the item answered
    intent: Mapped[str | None] = mapped_column(String(64), nullable=True)
    question: Mapped[str] = mapped_column(Text, default="")  # masked, at most QUESTION_CHARS
    followed_by: Mapped[str | None] = mapped_column(String(16), nullable=True)  # dispute | person (the next turn)
    resolved_version: Mapped[int | None] = mapped_column(Integer, nullable=True)  # inbox: resolves from this version on
    latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BookingAttendance(Base):
    """Whether the citizen came to a booked slot, as the hall's staff marked it (no-shows for the dashboard)."""

    __tablename__ = "booking_attendance"

    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # attended | no_show
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), nullable=True)
    marked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
