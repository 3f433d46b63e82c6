"""What the app waits for from a conversation (a phone number, a description): one open question each.
Plain functions over a db_session."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bot.clock import as_utc, aware
from bot.handoff.models import (
    PendingInput,
)

PENDING_MINUTES = 30  # how long an unanswered question of the app stays open

_pending = PendingInput.__table__
_HAS_PENDING = select(_pending.c.conversation_id).where(_pending.c.conversation_id == bindparam("conversation_id"))


def set_pending(*, db_session: Session, conversation_id: str, kind: str, data: dict[str, Any] | None = None, now: dt.datetime,
                minutes: int = PENDING_MINUTES) -> None:
    now = as_utc(now)
    row = db_session.get(PendingInput, conversation_id)
    expires = now + dt.timedelta(minutes=minutes)
    if row is None:
        db_session.add(PendingInput(conversation_id=conversation_id, kind=kind, data=data or {}, expires_at=expires))
    else:
        row.kind, row.data, row.expires_at = kind, data or {}, expires
    db_session.flush()


def get_pending(*, db_session: Session, conversation_id: str, now: dt.datetime) -> PendingInput | None:
    """What the desk asked this conversation and still waits for, or None (an expired question is dropped)."""
    if db_session.execute(_HAS_PENDING, {"conversation_id": conversation_id}).first() is None:
        return None  # the usual case, every message: one plain SELECT, no ORM load
    now = as_utc(now)
    row = db_session.get(PendingInput, conversation_id)
    if row is not None and aware(row.expires_at) < now:
        db_session.delete(row)
        db_session.flush()
        return None
    return row


def clear_pending(*, db_session: Session, conversation_id: str) -> None:
    row = db_session.get(PendingInput, conversation_id)
    if row is not None:
        db_session.delete(row)
        db_session.flush()
