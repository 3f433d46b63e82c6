"""Conversation log: every message in and out, stored before it is processed."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.clock import utcnow
from bot.db import Base


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "sender", name="uq_conversation_channel_sender"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # also Rasa's sender id
    channel: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "client_id", name="uq_message_client_id"),
        Index("ix_messages_conversation", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="received")  # in: received|answered|failed|rejected|busy
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
