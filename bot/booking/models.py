"""Bookings, per-slot seat counters (capacity enforced by a conditional update) and the reminder outbox."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from bot.clock import utcnow
from bot.db import Base


class SlotCounter(Base):
    """Seats taken in one slot; `taken < capacity` is checked inside the UPDATE itself."""

    __tablename__ = "slot_counters"
    __table_args__ = (UniqueConstraint("group_id", "day", "start", name="uq_slot"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    group_id: Mapped[str] = mapped_column(String(32))
    day: Mapped[dt.date] = mapped_column(Date)
    start: Mapped[str] = mapped_column(String(5))  # HH:MM
    capacity: Mapped[int] = mapped_column(Integer)
    taken: Mapped[int] = mapped_column(Integer, default=0)


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        # one active booking per person, item and day, enforced by the database
        Index("uq_booking_person_item_day", "phone", "item_name", "day", unique=True,
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
        Index("ix_bookings_day", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    request_id: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)  # idempotency key
    item_name: Mapped[str] = mapped_column(String(200))
    group_id: Mapped[str] = mapped_column(String(32))
    day: Mapped[dt.date] = mapped_column(Date)
    start: Mapped[str] = mapped_column(String(5))
    end: Mapped[str] = mapped_column(String(5))
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(11))
    id_number: Mapped[str | None] = mapped_column(String(18), nullable=True)
    channel: Mapped[str] = mapped_column(String(16), default="api")
    conversation_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | cancelled
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Reminder(Base):
    """Outbox: one reminder per booking and channel, sent by the worker, retried with back-off."""

    __tablename__ = "reminders"
    __table_args__ = (Index("ix_reminders_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    booking_code: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))  # sms | web | wechat
    target: Mapped[str] = mapped_column(String(128))  # phone number or conversation id
    text: Mapped[str] = mapped_column(Text)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | failed | cancelled
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
