"""The audit log: who did what in the console, when and from where.
Plain functions over a db_session."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.clock import as_utc, utcnow
from bot.handoff.models import (
    AuditEntry,
    Operator,
)
from bot.privacy import mask


def audit(*, db_session: Session, operator_id: int | None, action: str, target: str = "", detail: str = "", ip: str = "",
          now: dt.datetime | None = None) -> AuditEntry:
    now = as_utc(now) if now else None
    # the reason an operator types ("核实回电号码138…") or a reply quoted in the detail: masked like every log
    entry = AuditEntry(operator_id=operator_id, action=action, target=target[:128], detail=mask(detail)[:4000], ip=ip[:64],
                       created_at=now or utcnow())
    db_session.add(entry)
    db_session.flush()
    return entry


def revealed_recently(*, db_session: Session, operator_id: int, target: str, now: dt.datetime, minutes: float) -> bool:
    """Whether this operator has an audited reveal of this conversation (or work order) in the last `minutes`."""
    now = as_utc(now)
    since = now - dt.timedelta(minutes=minutes)
    return (db_session.scalar(
        select(func.count()).select_from(AuditEntry).where(
            AuditEntry.operator_id == operator_id, AuditEntry.action == "reveal", AuditEntry.target == target,
            AuditEntry.created_at >= since)
    ) or 0) > 0


def list_audit(*, db_session: Session, action: str = "", limit: int = 300) -> list[tuple[AuditEntry, str | None]]:
    query = (select(AuditEntry, Operator.username).outerjoin(Operator, Operator.id == AuditEntry.operator_id)
             .order_by(AuditEntry.id.desc()).limit(limit))
    if action:
        query = query.where(AuditEntry.action == action)
    return list(db_session.execute(query).tuples().all())
