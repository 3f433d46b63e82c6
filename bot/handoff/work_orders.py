"""Work orders (工单): messages, callback requests, 代办 requests and complaints that people follow up.
Plain functions over a db_session."""
from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.clock import TZ, as_utc
from bot.errors import Conflict, InvalidInput, NotFound
from bot.handoff.models import (
    WORK_ORDER_CATEGORIES,
    WORK_ORDER_STATUSES,
    Operator,
    WorkOrder,
)

NUMBER = re.compile(r"GD\d{10}", re.IGNORECASE)


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
    raise Conflict("今天的工单编号已用尽，请联系管理员")


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
    if not isinstance(assignee_id, str):  # "unchanged" is the only text value
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
