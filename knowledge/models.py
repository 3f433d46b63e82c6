"""Published knowledge versions: each applied import, edit, rollback or seed is one, with who, when and why."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from bot.clock import utcnow
from bot.db import Base


class KnowledgeVersion(Base):
    """One published version; the newest number is what every app process serves."""

    __tablename__ = "knowledge_versions"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    author: Mapped[str] = mapped_column(String(64))  # a person's name, or "seed"
    reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(200))  # seed | import:<files> | rollback:<N> | edit
    items: Mapped[int] = mapped_column(Integer)
    guides: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of the content
    seed_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the seed files' hash, for seed versions
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))  # Content.to_json(): zlib-compressed JSON
    search_model: Mapped[bytes | None] = deferred(mapped_column(LargeBinary, nullable=True))  # knowledge/fitted.py
