"""Personal data: kept for RETENTION_DAYS and then erased by a scheduled job; a citizen's data exported or erased on
request by an admin. Everything is audited (bot/handoff/audit.py). Plain functions over a db_session.

Erasing a conversation deletes its messages (and their push-outbox entries), replaces its sender (a WeChat OpenID,
a caller's number) by a neutral id, empties rating comments and operators' summaries; the conversation row, handoffs, rating levels and the turns' outcomes (masked questions, for the
statistics: bot/insight) stay. Erasing a booking replaces its name, phone and ID number; a work order, its
description, contact, village and reply. Rasa's copy of the conversation (its tracker) is erased by the caller
(`tracker_senders` in the result): in Rasa's SQL tracker store (TRACKER_DATABASE_URL) and through Rasa's API.
Conversations with an open handoff or an open work order are kept until those are closed.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.orm import Session

from bot.booking.models import Booking, Reminder
from bot.conversations.models import Conversation, Message
from bot.db import rowcount
from bot.errors import InvalidInput
from bot.handoff.audit import audit
from bot.handoff.models import OPEN_STATUSES, Handoff, Rating, WorkOrder
from bot.privacy import mask
from bot.push import OutboxEntry

ERASED = "（已删除）"
OPEN_WORK_ORDERS = ("new", "in_progress")
BATCH = 500  # conversations, bookings and work orders per retention pass (small transactions; the next pass goes on)


class PersonalDataError(InvalidInput):
    """A request names no citizen (no phone, conversation id or OpenID)."""


@dataclass
class Citizen:
    """How an admin names the citizen whose data is asked for: any of these (a phone finds bookings, work orders,
    phone calls and the conversations they came from)."""

    phone: str = ""
    conversation_id: str = ""
    wechat_openid: str = ""

    def check(self) -> None:
        if not (self.phone or self.conversation_id or self.wechat_openid):
            raise PersonalDataError("请至少提供手机号、会话编号或微信 OpenID 中的一项")

    def masked(self) -> str:
        parts = [mask(self.phone), self.conversation_id, (self.wechat_openid or "")[:6] + "***" if self.wechat_openid else ""]
        return " ".join(p for p in parts if p)


@dataclass
class Erased:
    conversations: int = 0
    messages: int = 0
    bookings: int = 0
    work_orders: int = 0
    tracker_senders: list[str] = field(default_factory=list)  # conversation ids whose Rasa trackers must go too

    def summary(self) -> str:
        return (f"删除了 {self.conversations} 个会话的 {self.messages} 条聊天记录，"
                f"{self.bookings} 个预约、{self.work_orders} 个工单的个人信息")


# --- finding a citizen's data ----------------------------------------------------------------------

def _conversation_ids(db_session: Session, citizen: Citizen) -> list[str]:
    conditions = []
    if citizen.conversation_id:
        conditions.append(Conversation.id == citizen.conversation_id)
    if citizen.wechat_openid:
        conditions.append((Conversation.channel == "wechat") & (Conversation.sender == citizen.wechat_openid))
    if citizen.phone:
        conditions.append((Conversation.channel == "voice") & Conversation.sender.endswith(citizen.phone))
        conditions.append(Conversation.id.in_(select(Booking.conversation_id).where(Booking.phone == citizen.phone)))
        conditions.append(Conversation.id.in_(select(WorkOrder.conversation_id).where(WorkOrder.contact_phone == citizen.phone)))
    return list(db_session.scalars(select(Conversation.id).where(or_(*conditions)).order_by(Conversation.created_at)))


def _bookings(db_session: Session, citizen: Citizen, conversation_ids: list[str]) -> list[Booking]:
    conditions: list[ColumnElement[bool]] = [Booking.conversation_id.in_(conversation_ids)]
    if citizen.phone:
        conditions.append(Booking.phone == citizen.phone)
    return list(db_session.scalars(select(Booking).where(or_(*conditions)).order_by(Booking.id)))


def _work_orders(db_session: Session, citizen: Citizen, conversation_ids: list[str]) -> list[WorkOrder]:
    conditions: list[ColumnElement[bool]] = [WorkOrder.conversation_id.in_(conversation_ids)]
    if citizen.phone:
        conditions.append(WorkOrder.contact_phone == citizen.phone)
    return list(db_session.scalars(select(WorkOrder).where(or_(*conditions)).order_by(WorkOrder.id)))


def _at(value: dt.datetime | None) -> str:
    return value.isoformat() if value else ""


def export(*, db_session: Session, citizen: Citizen, operator_id: int | None, ip: str = "", reason: str = "") -> dict[str, Any]:
    """Everything stored about the citizen, unmasked (it is for them), as JSON-ready data; audited."""
    citizen.check()
    conversation_ids = _conversation_ids(db_session, citizen)
    conversations = []
    for conversation in db_session.scalars(select(Conversation).where(Conversation.id.in_(conversation_ids))):
        messages = db_session.scalars(select(Message).where(Message.conversation_id == conversation.id).order_by(Message.id))
        ratings = db_session.scalars(select(Rating).where(Rating.conversation_id == conversation.id).order_by(Rating.id))
        conversations.append({
            "id": conversation.id, "channel": conversation.channel, "created_at": _at(conversation.created_at),
            "messages": [{"direction": m.direction, "text": m.text, "at": _at(m.created_at)} for m in messages],
            "ratings": [{"level": r.level, "comment": r.comment, "at": _at(r.created_at)} for r in ratings],
        })
    bookings = [{"code": b.code, "item": b.item_name, "date": b.day.isoformat(), "start": b.start, "name": b.name, "phone": b.phone,
                 "id_number": b.id_number, "status": b.status, "created_at": _at(b.created_at)}
                for b in _bookings(db_session, citizen, conversation_ids)]
    work_orders = [{"number": w.number, "category": w.category, "status": w.status, "description": w.description,
                    "contact_name": w.contact_name, "contact_phone": w.contact_phone, "village": w.village, "reply": w.reply,
                    "created_at": _at(w.created_at)} for w in _work_orders(db_session, citizen, conversation_ids)]
    audit(db_session=db_session, operator_id=operator_id, action="data_export", target=citizen.masked(),
          detail=f"导出 {len(conversations)} 个会话、{len(bookings)} 个预约、{len(work_orders)} 个工单。{reason}", ip=ip)
    return {"conversations": conversations, "bookings": bookings, "work_orders": work_orders}


# --- erasing ---------------------------------------------------------------------------------------

def _erase_conversations(db_session: Session, conversation_ids: list[str], erased: Erased) -> None:
    if not conversation_ids:
        return
    db_session.execute(delete(OutboxEntry).where(OutboxEntry.conversation_id.in_(conversation_ids)))
    erased.messages += rowcount(db_session.execute(delete(Message).where(Message.conversation_id.in_(conversation_ids))))
    for conversation_id in conversation_ids:  # the sender is unique per channel: each its own neutral id
        db_session.execute(update(Conversation).where(Conversation.id == conversation_id).values(sender=f"erased-{conversation_id}"))
    db_session.execute(update(Rating).where(Rating.conversation_id.in_(conversation_ids)).values(comment=""))
    db_session.execute(update(Handoff).where(Handoff.conversation_id.in_(conversation_ids)).values(summary=""))
    erased.conversations += len(conversation_ids)
    erased.tracker_senders += conversation_ids


def _erase_bookings(db_session: Session, bookings: list[Booking], erased: Erased) -> None:
    codes = [b.code for b in bookings if b.name != ERASED]
    if not codes:
        return
    db_session.execute(update(Booking).where(Booking.code.in_(codes)).values(name=ERASED, phone="", id_number=None))
    db_session.execute(delete(Reminder).where(Reminder.booking_code.in_(codes), Reminder.status != "pending"))
    db_session.execute(update(Reminder).where(Reminder.booking_code.in_(codes)).values(target="", text=ERASED, status="cancelled"))
    erased.bookings += len(codes)


def _erase_work_orders(db_session: Session, orders: list[WorkOrder], erased: Erased) -> None:
    ids = [w.id for w in orders if w.contact_name != ERASED]
    if not ids:
        return
    db_session.execute(update(WorkOrder).where(WorkOrder.id.in_(ids)).values(
        description=ERASED, contact_name=ERASED, contact_phone="", village="", reply=ERASED))
    erased.work_orders += len(ids)


def erase(*, db_session: Session, citizen: Citizen, operator_id: int | None, ip: str = "", reason: str = "") -> Erased:
    """Erase the citizen's data now, on their request (open handoffs and work orders included); audited."""
    citizen.check()
    erased = Erased()
    conversation_ids = _conversation_ids(db_session, citizen)
    bookings = _bookings(db_session, citizen, conversation_ids)
    orders = _work_orders(db_session, citizen, conversation_ids)
    _erase_conversations(db_session, conversation_ids, erased)
    _erase_bookings(db_session, bookings, erased)
    _erase_work_orders(db_session, orders, erased)
    audit(db_session=db_session, operator_id=operator_id, action="data_erase", target=citizen.masked(),
          detail=f"应本人申请：{erased.summary()}。{reason}", ip=ip)
    return erased


def erase_expired(*, db_session: Session, now: dt.datetime, days: int) -> Erased:
    """One retention pass: erase what is older than `days` (at most BATCH of each); audited when anything was."""
    cutoff = now - dt.timedelta(days=days)
    erased = Erased()
    last_message = (select(Message.conversation_id).group_by(Message.conversation_id)
                    .having(func.max(Message.created_at) < cutoff))
    still_open = select(Handoff.conversation_id).where(Handoff.status.in_(OPEN_STATUSES))
    open_orders = select(WorkOrder.conversation_id).where(WorkOrder.status.in_(OPEN_WORK_ORDERS),
                                                          WorkOrder.conversation_id.is_not(None))
    conversation_ids = list(db_session.scalars(
        select(Conversation.id).where(Conversation.id.in_(last_message), Conversation.id.not_in(still_open),
                                      Conversation.id.not_in(open_orders)).limit(BATCH)))
    _erase_conversations(db_session, conversation_ids, erased)
    bookings = list(db_session.scalars(select(Booking).where(Booking.day < cutoff.date(), Booking.name != ERASED).limit(BATCH)))
    _erase_bookings(db_session, bookings, erased)
    orders = list(db_session.scalars(select(WorkOrder).where(
        WorkOrder.status.not_in(OPEN_WORK_ORDERS), WorkOrder.updated_at < cutoff, WorkOrder.contact_name != ERASED).limit(BATCH)))
    _erase_work_orders(db_session, orders, erased)
    if erased.conversations or erased.bookings or erased.work_orders:
        audit(db_session=db_session, operator_id=None, action="retention", target=f"{days}天",
              detail=f"保存期限 {days} 天（{cutoff:%Y-%m-%d} 以前）：{erased.summary()}。", now=now)
    return erased
