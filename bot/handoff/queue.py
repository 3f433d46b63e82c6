"""The handoff queue: waiting and active conversations, take-over, hand-back, close, the wait estimate.
Plain functions over a db_session."""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, and_, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.clock import as_utc, aware
from bot.conversations.models import Conversation, Message
from bot.db import rowcount
from bot.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.handoff.models import (
    CLOSE_CATEGORIES,
    OPEN_STATUSES,
    Handoff,
    Operator,
)

PRIORITY = {"sensitive": 2, "complaint": 1, "caller": 1}  # others 0; higher first, then first come


# What the handoff desk checks on every citizen message (ConversationService): statements built once, so SQLAlchemy
# reuses their compiled form instead of building and keying a new statement per message.
_handoffs = Handoff.__table__  # plain SQL, less work
_OPEN_HANDOFF_STATE = select(_handoffs.c.status, _handoffs.c.bot_paused).where(
    _handoffs.c.conversation_id == bindparam("conversation_id"), _handoffs.c.status.in_(OPEN_STATUSES))


def open_handoff_state(*, db_session: Session, conversation_id: str) -> Row[Any] | None:
    """(status, bot_paused) of the conversation's waiting or active handoff, or None."""
    return db_session.execute(_OPEN_HANDOFF_STATE, {"conversation_id": conversation_id}).first()


def open_handoff(*, db_session: Session, conversation_id: str) -> Handoff | None:
    """The conversation's waiting or active handoff."""
    return db_session.scalar(
        select(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status.in_(OPEN_STATUSES))
    )


def conversation_channel(*, db_session: Session, conversation_id: str) -> str:
    conversation = db_session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"没有编号为 {conversation_id} 的会话")
    return conversation.channel


def enqueue(*, db_session: Session, conversation_id: str, reason: str, now: dt.datetime) -> tuple[Handoff, bool]:
    """Put the conversation in the queue; (its handoff, whether it is new). An open one is kept, and
    raised in priority when the new reason is more urgent."""
    now = as_utc(now)
    channel = conversation_channel(db_session=db_session, conversation_id=conversation_id)
    existing = open_handoff(db_session=db_session, conversation_id=conversation_id)
    if existing is not None:
        if PRIORITY.get(reason, 0) > existing.priority and existing.status == "waiting":
            existing.priority, existing.reason = PRIORITY[reason], reason
        return existing, False
    handoff = Handoff(conversation_id=conversation_id, channel=channel, reason=reason, priority=PRIORITY.get(reason, 0),
                      status="waiting", created_at=now)
    try:
        with db_session.begin_nested():
            db_session.add(handoff)
    except IntegrityError:  # the same conversation asked twice at once: the other request queued it
        queued = open_handoff(db_session=db_session, conversation_id=conversation_id)
        assert queued is not None  # the other request's
        return queued, False
    return handoff, True


def record_transfer(*, db_session: Session, conversation_id: str, reason: str, now: dt.datetime) -> Handoff:
    """A phone call handed to the operator line (voice transfers instead of queueing in the console)."""
    now = as_utc(now)
    channel = conversation_channel(db_session=db_session, conversation_id=conversation_id)
    handoff = Handoff(conversation_id=conversation_id, channel=channel, reason=reason, priority=PRIORITY.get(reason, 0),
                      status="transferred", created_at=now, closed_at=now)
    db_session.add(handoff)
    db_session.flush()
    return handoff


def queue_position(*, db_session: Session, handoff: Handoff) -> int:
    """1 for the next to be served: higher priority first, then first come."""
    ahead = db_session.scalar(
        select(func.count()).select_from(Handoff).where(
            Handoff.status == "waiting",
            or_(Handoff.priority > handoff.priority, and_(Handoff.priority == handoff.priority, Handoff.id < handoff.id)),
        )
    ) or 0
    return ahead + 1


def average_minutes(*, db_session: Session, default_minutes: float) -> float:
    """Mean time an operator spent per conversation over the last 20, or the default before there are any."""
    rows = db_session.execute(
        select(Handoff.taken_at, func.coalesce(Handoff.returned_at, Handoff.closed_at))
        .where(Handoff.taken_at.is_not(None), or_(Handoff.returned_at.is_not(None), Handoff.closed_at.is_not(None)))
        .order_by(Handoff.id.desc()).limit(20)
    ).all()
    spans = [(aware(end) - aware(start)).total_seconds() / 60 for start, end in rows if start and end]
    return sum(spans) / len(spans) if spans else default_minutes


def wait_minutes(*, db_session: Session, position: int, operators: int, default_minutes: float) -> int:
    """Estimated minutes until an operator takes the conversation at this position."""
    per = average_minutes(db_session=db_session, default_minutes=default_minutes)
    return max(1, math.ceil(position * per / max(operators, 1)))


def take_over(*, db_session: Session, conversation_id: str, operator_id: int, now: dt.datetime) -> Handoff:
    """The operator takes the conversation; Conflict when another operator has it (decided by the database)."""
    now = as_utc(now)
    handoff = db_session.scalar(
        select(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status.in_(OPEN_STATUSES))
    )
    if handoff is None:  # not in the queue: the operator joins on their own initiative
        channel = conversation_channel(db_session=db_session, conversation_id=conversation_id)
        if channel == "voice":
            raise NotAllowed("电话会话不能在这里接入：来电会直接转接到人工坐席电话。")
        handoff = Handoff(conversation_id=conversation_id, channel=channel, reason="operator", status="active",
                          operator_id=operator_id, created_at=now, taken_at=now)
        try:
            with db_session.begin_nested():
                db_session.add(handoff)
        except IntegrityError:
            raise Conflict(_taken_message(db_session, conversation_id)) from None
        return handoff
    taken = rowcount(db_session.execute(
        update(Handoff).where(Handoff.id == handoff.id, Handoff.status == "waiting")
        .values(status="active", operator_id=operator_id, taken_at=now)
        .execution_options(synchronize_session=False)
    ))
    if taken != 1:
        raise Conflict(_taken_message(db_session, conversation_id))
    db_session.refresh(handoff)
    return handoff


def _taken_message(db_session: Session, conversation_id: str) -> str:
    row = db_session.execute(
        select(Operator.display_name).join(Handoff, Handoff.operator_id == Operator.id)
        .where(Handoff.conversation_id == conversation_id, Handoff.status == "active")
    ).first()
    return f"这个会话已由{row[0]}接入，不能重复接入。" if row else "这个会话刚刚被其他坐席接入，不能重复接入。"


def active_handoff_of(*, db_session: Session, conversation_id: str, operator_id: int) -> Handoff:
    """The conversation's active handoff if this operator has it; otherwise NotAllowed or NotFound."""
    handoff = open_handoff(db_session=db_session, conversation_id=conversation_id)
    if handoff is None or handoff.status != "active":
        raise NotFound("这个会话目前不在人工服务中，请先接入。")
    if handoff.operator_id != operator_id:
        raise NotAllowed("这个会话由其他坐席接待，您不能代为回复。")
    return handoff


def set_bot_paused(*, db_session: Session, handoff_id: int, paused: bool) -> None:
    db_session.execute(update(Handoff).where(Handoff.id == handoff_id).values(bot_paused=paused))


def hand_back(*, db_session: Session, conversation_id: str, operator_id: int, now: dt.datetime) -> Handoff:
    now = as_utc(now)
    handoff = active_handoff_of(db_session=db_session, conversation_id=conversation_id, operator_id=operator_id)
    handoff.status, handoff.returned_at = "returned", now
    db_session.flush()
    return handoff


def closable_handoff(*, db_session: Session, conversation_id: str, operator_id: int) -> Handoff:
    """What "close" acts on: the operator's active or handed-back handoff, or a waiting one."""
    handoff = open_handoff(db_session=db_session, conversation_id=conversation_id)
    if handoff is None:
        handoff = db_session.scalar(
            select(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status == "returned",
                                  Handoff.operator_id == operator_id).order_by(Handoff.id.desc()).limit(1)
        )
    if handoff is None:
        raise NotFound("这个会话没有需要结束的人工服务。")
    if handoff.status == "active" and handoff.operator_id != operator_id:
        raise NotAllowed("这个会话由其他坐席接待，只有接待的坐席可以结束。")
    return handoff


def close(*, db_session: Session, handoff: Handoff, category: str, summary: str, operator_id: int, now: dt.datetime) -> str:
    """Close with a category and a summary; returns the status it had."""
    now = as_utc(now)
    if category not in CLOSE_CATEGORIES:
        raise InvalidInput(f"请选择结束分类：{'、'.join(CLOSE_CATEGORIES)}")
    before = handoff.status
    handoff.status, handoff.category, handoff.summary, handoff.closed_at = "closed", category, (summary or "").strip()[:2000], now
    if handoff.operator_id is None:
        handoff.operator_id = operator_id
    db_session.flush()
    return before


def abandon(*, db_session: Session, conversation_id: str, now: dt.datetime) -> bool:
    """The citizen no longer waits: True if a waiting handoff was dropped."""
    now = as_utc(now)
    dropped = rowcount(db_session.execute(
        update(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status == "waiting")
        .values(status="abandoned", closed_at=now).execution_options(synchronize_session=False)
    ))
    return dropped > 0


@dataclass
class QueueRow:
    conversation_id: str
    channel: str
    reason: str
    priority: int
    status: str
    since: str
    position: int | None = None
    operator: str | None = None
    operator_id: int | None = None
    last_message: str = ""


def queue_view(*, db_session: Session, mask_text: Callable[[str], str]) -> dict[str, list[QueueRow]]:
    """Waiting (in serving order), active and handed-back handoffs, with each conversation's last citizen message."""
    rows = db_session.execute(
        select(Handoff, Operator.display_name).outerjoin(Operator, Operator.id == Handoff.operator_id)
        .where(Handoff.status.in_(("waiting", "active", "returned")))
        .order_by(Handoff.priority.desc(), Handoff.id)
    ).all()
    ids = [h.conversation_id for h, _ in rows]
    last: dict[str, str] = {}
    if ids:
        latest = (select(Message.conversation_id, func.max(Message.id).label("mid"))
                  .where(Message.conversation_id.in_(ids), Message.direction == "in").group_by(Message.conversation_id).subquery())
        for conversation_id, text_ in db_session.execute(select(Message.conversation_id, Message.text).join(latest, Message.id == latest.c.mid)):
            last[conversation_id] = mask_text(text_)[:80]
    view: dict[str, list[QueueRow]] = {"waiting": [], "active": [], "returned": []}
    for handoff, name in rows:
        since = aware(handoff.created_at if handoff.status == "waiting" else (handoff.taken_at or handoff.created_at))
        row = QueueRow(handoff.conversation_id, handoff.channel, handoff.reason, handoff.priority, handoff.status,
                       since.isoformat(), operator=name, operator_id=handoff.operator_id,
                       last_message=last.get(handoff.conversation_id, ""))
        view[handoff.status].append(row)
    for n, row in enumerate(view["waiting"], 1):
        row.position = n
    return view


def handoff_history(*, db_session: Session, conversation_id: str) -> list[Handoff]:
    return list(db_session.scalars(select(Handoff).where(Handoff.conversation_id == conversation_id).order_by(Handoff.id)))
