"""Handoff services, plain functions over a db_session: duty hours, the queue, take-over and close,
work orders, ratings, what a conversation waits for next, console settings and the audit log."""
from __future__ import annotations

import datetime as dt
import math
import random
import re
from dataclasses import dataclass, field

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.booking.calendar import CalendarUnknown, WorkCalendar
from bot.booking.schedule import TZ
from bot.conversations.models import Conversation, Message, utcnow
from bot.handoff.hours import parse_duty_hours
from bot.handoff.models import (
    CLOSE_CATEGORIES, OPEN_STATUSES, RATING_LEVELS, WORK_ORDER_CATEGORIES, WORK_ORDER_STATUSES, AuditEntry,
    ConsoleSetting, Handoff, Operator, PendingInput, Rating, WorkOrder,
)

PRIORITY = {"sensitive": 2, "complaint": 1, "caller": 1}  # others 0; higher first, then first come
PENDING_MINUTES = 30  # how long an unanswered question of the app stays open
NUMBER = re.compile(r"GD\d{10}", re.IGNORECASE)


class HandoffError(Exception):
    """Base of handoff errors; the message is Chinese and can be shown to an operator."""

    status = 400


class NotFound(HandoffError):
    status = 404


class Conflict(HandoffError):
    """The record changed meanwhile (another operator took the conversation first)."""

    status = 409


class NotAllowed(HandoffError):
    status = 403


class InvalidInput(HandoffError):
    status = 422


def as_utc(value: dt.datetime) -> dt.datetime:
    """Times are stored in UTC (SQLite keeps no offset): convert any aware time before it reaches the database."""
    return value.astimezone(dt.timezone.utc) if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes: they are UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


# --- duty hours and console settings ------------------------------------------------------------

def split_words(value: str | list[str]) -> list[str]:
    """Sensitive words from "a,b" or one per line; blanks and repeats dropped."""
    parts = value if isinstance(value, list) else re.split(r"[,，、;\n\r]+", value or "")
    words: list[str] = []
    for part in parts:
        part = str(part).strip()
        if part and part not in words:
            words.append(part)
    return words


@dataclass
class DutyConfig:
    hours: str
    days: str  # "workdays" | "every_day"
    sensitive_words: list[str]

    @property
    def spans(self) -> list[tuple[dt.time, dt.time]]:
        return parse_duty_hours(self.hours)


def duty_config(*, db_session: Session, settings) -> DutyConfig:
    """Env defaults, overridden by what an admin saved in the console."""
    saved = {row.key: row.value for row in db_session.scalars(select(ConsoleSetting))}
    return DutyConfig(
        hours=saved.get("duty_hours", settings.handoff_duty_hours),
        days=saved.get("duty_days", settings.handoff_duty_days),
        sensitive_words=split_words(saved.get("sensitive_words", settings.handoff_sensitive_words)),
    )


def save_duty_config(*, db_session: Session, hours: str, days: str, sensitive_words: list[str]) -> DutyConfig:
    parse_duty_hours(hours)  # raises ValueError naming the bad span
    if days not in ("workdays", "every_day"):
        raise ValueError("值班日只能是“工作日”或“每天”")
    for key, value in (("duty_hours", hours.strip()), ("duty_days", days), ("sensitive_words", split_words(sensitive_words))):
        row = db_session.get(ConsoleSetting, key)
        if row is None:
            db_session.add(ConsoleSetting(key=key, value=value))
        else:
            row.value = value
    db_session.flush()
    return DutyConfig(hours.strip(), days, split_words(sensitive_words))


def in_duty_hours(config: DutyConfig, now: dt.datetime, calendar: WorkCalendar) -> bool:
    """Within the duty spans on a duty day (working days come from the booking calendar, 调休 included)."""
    local = now.astimezone(TZ)
    if config.days == "workdays":
        try:
            workday = calendar.is_workday(local.date())
        except CalendarUnknown:
            workday = local.weekday() < 5  # the year's holidays are not published yet: Monday to Friday
        if not workday:
            return False
    clock = local.time()
    return any(start <= clock <= end for start, end in config.spans)


def duty_description(config: DutyConfig) -> str:
    """ "工作日 08:30-12:00、14:00-18:00" for citizens."""
    spans = "、".join(f"{s.strftime('%H:%M')}-{'24:00' if e == dt.time.max else e.strftime('%H:%M')}" for s, e in config.spans)
    return ("工作日" if config.days == "workdays" else "每天") + " " + (spans or "（暂未安排）")


def touch_presence(*, db_session: Session, operator_id: int, now: dt.datetime) -> None:
    now = as_utc(now)
    db_session.execute(update(Operator).where(Operator.id == operator_id).values(last_seen_at=now))


def operators_online(*, db_session: Session, now: dt.datetime, presence_seconds: float) -> int:
    """Active accounts with the console open recently (it polls every few seconds)."""
    now = as_utc(now)
    since = now - dt.timedelta(seconds=presence_seconds)
    return db_session.scalar(
        select(func.count()).select_from(Operator).where(Operator.active.is_(True), Operator.last_seen_at >= since)
    ) or 0


# --- the queue ------------------------------------------------------------------------------------

# What the handoff desk checks on every citizen message (ConversationService): statements built once, so SQLAlchemy
# reuses their compiled form instead of building and keying a new statement per message.
_handoffs, _pending, _settings = Handoff.__table__, PendingInput.__table__, ConsoleSetting.__table__  # plain SQL, less work
_OPEN_HANDOFF_STATE = select(_handoffs.c.status, _handoffs.c.bot_paused).where(
    _handoffs.c.conversation_id == bindparam("conversation_id"), _handoffs.c.status.in_(OPEN_STATUSES))
_HAS_PENDING = select(_pending.c.conversation_id).where(_pending.c.conversation_id == bindparam("conversation_id"))
_SENSITIVE_WORDS = select(_settings.c.value).where(_settings.c.key == "sensitive_words")


def open_handoff_state(*, db_session: Session, conversation_id: str):
    """(status, bot_paused) of the conversation's waiting or active handoff, or None."""
    return db_session.execute(_OPEN_HANDOFF_STATE, {"conversation_id": conversation_id}).first()


def sensitive_words(*, db_session: Session, settings) -> list[str]:
    """duty_config(...).sensitive_words, read alone."""
    saved = db_session.execute(_SENSITIVE_WORDS).scalar()
    return split_words(saved if saved is not None else settings.handoff_sensitive_words)


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
        return open_handoff(db_session=db_session, conversation_id=conversation_id), False
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
    taken = db_session.execute(
        update(Handoff).where(Handoff.id == handoff.id, Handoff.status == "waiting")
        .values(status="active", operator_id=operator_id, taken_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
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
    dropped = db_session.execute(
        update(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status == "waiting")
        .values(status="abandoned", closed_at=now).execution_options(synchronize_session=False)
    ).rowcount
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


def queue_view(*, db_session: Session, mask_text) -> dict[str, list[QueueRow]]:
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


# --- what the app waits for from a conversation ---------------------------------------------------

def set_pending(*, db_session: Session, conversation_id: str, kind: str, data: dict | None = None, now: dt.datetime) -> None:
    now = as_utc(now)
    row = db_session.get(PendingInput, conversation_id)
    expires = now + dt.timedelta(minutes=PENDING_MINUTES)
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


# --- work orders ----------------------------------------------------------------------------------

def _number(now: dt.datetime) -> str:
    return "GD" + now.astimezone(TZ).strftime("%y%m%d") + f"{random.randrange(10000):04d}"


def create_work_order(*, db_session: Session, category: str, description: str, now: dt.datetime, contact_phone: str = "",
                      contact_name: str = "", village: str = "", item_id: str | None = None, item_name: str | None = None,
                      channel: str = "", conversation_id: str | None = None) -> WorkOrder:
    """A new work order with a unique number GDyymmddNNNN (random digits: numbers do not reveal volumes or neighbours)."""
    now = as_utc(now)
    if category not in WORK_ORDER_CATEGORIES:
        raise InvalidInput(f"未知的工单类别 {category}")
    for _attempt in range(20):
        order = WorkOrder(number=_number(now), category=category, description=description.strip()[:4000],
                          contact_phone=contact_phone, contact_name=contact_name, village=village, item_id=item_id,
                          item_name=item_name, channel=channel, conversation_id=conversation_id, created_at=now, updated_at=now)
        try:
            with db_session.begin_nested():
                db_session.add(order)
            return order
        except IntegrityError:
            continue
    raise HandoffError("今天的工单编号已用尽，请联系管理员")


def find_work_order(*, db_session: Session, number: str) -> WorkOrder | None:
    return db_session.scalar(select(WorkOrder).where(WorkOrder.number == number.upper()))


@dataclass
class WorkOrderFilter:
    status: str = ""
    category: str = ""
    assignee: str = ""  # "" all, "mine", "none", or an operator id
    number: str = ""


def list_work_orders(*, db_session: Session, filters: WorkOrderFilter, operator_id: int, limit: int = 200) -> list[WorkOrder]:
    query = select(WorkOrder).order_by(WorkOrder.id.desc()).limit(limit)
    if filters.status:
        query = query.where(WorkOrder.status == filters.status)
    if filters.category:
        query = query.where(WorkOrder.category == filters.category)
    if filters.assignee == "mine":
        query = query.where(WorkOrder.assignee_id == operator_id)
    elif filters.assignee == "none":
        query = query.where(WorkOrder.assignee_id.is_(None))
    elif filters.assignee.isdigit():
        query = query.where(WorkOrder.assignee_id == int(filters.assignee))
    if filters.number:
        query = query.where(WorkOrder.number.contains(filters.number.strip().upper()))
    return list(db_session.scalars(query))


def update_work_order(*, db_session: Session, number: str, now: dt.datetime, status: str | None = None,
                      assignee_id: int | None | str = "unchanged", reply: str | None = None) -> tuple[WorkOrder, list[str]]:
    """Assign, change status or reply; returns the order and what changed (for the audit log)."""
    now = as_utc(now)
    order = find_work_order(db_session=db_session, number=number)
    if order is None:
        raise NotFound(f"没有编号为 {number} 的工单")
    changes = []
    if assignee_id != "unchanged":
        if assignee_id is not None and db_session.get(Operator, assignee_id) is None:
            raise InvalidInput("指派的坐席不存在")
        if order.assignee_id != assignee_id:
            order.assignee_id = assignee_id
            changes.append(f"指派给 {assignee_id or '无'}")
            if assignee_id is not None and order.status == "new":
                order.status = "in_progress"
                changes.append("状态 处理中")
    if reply is not None and reply.strip():
        order.reply, order.replied_at = reply.strip()[:4000], now
        changes.append("答复")
        if order.status in ("new", "in_progress"):
            order.status = "replied"
            changes.append("状态 已答复")
    if status:
        if status not in WORK_ORDER_STATUSES:
            raise InvalidInput(f"工单状态只能是：{'、'.join(WORK_ORDER_STATUSES.values())}")
        if order.status != status:
            order.status = status
            changes.append(f"状态 {WORK_ORDER_STATUSES[status]}")
    order.updated_at = now
    db_session.flush()
    return order, changes


# --- ratings --------------------------------------------------------------------------------------

_LEVEL_WORDS = sorted(RATING_LEVELS, key=len, reverse=True)  # "非常不满意" before "不满意" before "满意"
_DIGIT_LEVEL = {"1": "非常满意", "2": "满意", "3": "基本满意", "4": "不满意", "5": "非常不满意"}  # the order offered


def level_of(text: str, allow_number: bool = False) -> str | None:
    """The rating level a text names ("非常满意", "不满意"...; "1"-"5" in the offered order when allowed)."""
    text = (text or "").strip().replace("滿", "满").replace("見", "见")
    for word in _LEVEL_WORDS:
        if word in text:
            return word
    if allow_number and text in _DIGIT_LEVEL:
        return _DIGIT_LEVEL[text]
    return None


def record_rating(*, db_session: Session, conversation_id: str, level: str, now: dt.datetime, handoff_id: int | None = None,
                  comment: str = "") -> Rating:
    """Store a rating; 不满意 or worse opens a work order for review."""
    now = as_utc(now)
    if level not in RATING_LEVELS:
        raise InvalidInput(f"评价只能是：{'、'.join(RATING_LEVELS)}")
    channel = conversation_channel(db_session=db_session, conversation_id=conversation_id)
    rating = Rating(conversation_id=conversation_id, handoff_id=handoff_id, level=level, score=RATING_LEVELS[level],
                    comment=comment, channel=channel, created_at=now)
    db_session.add(rating)
    db_session.flush()
    if rating.score <= 2:
        order = create_work_order(db_session=db_session, category="review", now=now, channel=channel, conversation_id=conversation_id,
                                  description=f"群众评价“{level}”，请回访核实原因并改进。")
        rating.work_order_id = order.id
        db_session.flush()
    return rating


def add_rating_comment(*, db_session: Session, rating_id: int, comment: str) -> Rating:
    rating = db_session.get(Rating, rating_id)
    if rating is None:
        raise NotFound("没有这条评价")
    rating.comment = comment.strip()[:2000]
    if rating.work_order_id:
        order = db_session.get(WorkOrder, rating.work_order_id)
        order.description = f"{order.description}\n群众意见：{rating.comment}"
    db_session.flush()
    return rating


def rated_recently(*, db_session: Session, conversation_id: str, now: dt.datetime, minutes: int = 60) -> bool:
    now = as_utc(now)
    since = now - dt.timedelta(minutes=minutes)
    return db_session.scalar(
        select(func.count()).select_from(Rating).where(Rating.conversation_id == conversation_id, Rating.created_at >= since)
    ) > 0


@dataclass
class RatingSummary:
    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0
    satisfied_share: float | None = None  # 非常满意 + 满意 + 基本满意 over all


def list_ratings(*, db_session: Session, level: str = "", limit: int = 200) -> tuple[list[Rating], RatingSummary]:
    query = select(Rating).order_by(Rating.id.desc()).limit(limit)
    if level:
        query = query.where(Rating.level == level)
    counts = dict(db_session.execute(select(Rating.level, func.count()).group_by(Rating.level)).all())
    summary = RatingSummary({name: counts.get(name, 0) for name in RATING_LEVELS}, sum(counts.values()))
    if summary.total:
        summary.satisfied_share = sum(v for k, v in counts.items() if RATING_LEVELS.get(k, 0) >= 3) / summary.total
    return list(db_session.scalars(query)), summary


# --- audit ----------------------------------------------------------------------------------------

def audit(*, db_session: Session, operator_id: int | None, action: str, target: str = "", detail: str = "", ip: str = "",
          now: dt.datetime | None = None) -> AuditEntry:
    now = as_utc(now) if now else None
    entry = AuditEntry(operator_id=operator_id, action=action, target=target[:128], detail=detail[:4000], ip=ip[:64],
                       created_at=now or utcnow())
    db_session.add(entry)
    db_session.flush()
    return entry


def revealed_recently(*, db_session: Session, operator_id: int, target: str, now: dt.datetime, minutes: float) -> bool:
    """Whether this operator has an audited reveal of this conversation (or work order) in the last `minutes`."""
    now = as_utc(now)
    since = now - dt.timedelta(minutes=minutes)
    return db_session.scalar(
        select(func.count()).select_from(AuditEntry).where(
            AuditEntry.operator_id == operator_id, AuditEntry.action == "reveal", AuditEntry.target == target,
            AuditEntry.created_at >= since)
    ) > 0


def list_audit(*, db_session: Session, action: str = "", limit: int = 300) -> list[tuple[AuditEntry, str | None]]:
    query = (select(AuditEntry, Operator.username).outerjoin(Operator, Operator.id == AuditEntry.operator_id)
             .order_by(AuditEntry.id.desc()).limit(limit))
    if action:
        query = query.where(AuditEntry.action == action)
    return list(db_session.execute(query).all())
