"""The life of an appeal (诉求) as a work order: filed and routed, dispatched to a department (or held for the hotline's
review when the routing is uncertain), signed for, answered, extended, returned, escalated (督办), reopened after a
不满意 rating; deadlines watched; similar appeals linked as one hot issue.
Plain functions over a db_session; every step is written to the audit log (action "appeal_*", target the number)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import jieba
from rapidfuzz import fuzz
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.appeals.classifier import Classification
from bot.appeals.routing import APPEAL_TYPES, Routing
from bot.clock import as_utc, aware
from bot.errors import Conflict, InvalidInput, NotFound
from bot.handoff import work_orders
from bot.handoff.audit import audit
from bot.handoff.models import Operator, WorkOrder

DISPATCH_CONFIDENCE = 0.55  # below this the hotline confirms the department first (chosen on the tune set, docs/appeals.md)
HOT_WINDOW_DAYS = 14
HOT_SIMILARITY = 60  # rapidfuzz token_set_ratio of the two descriptions' words, same second-level class
OPEN = ("review", "dispatched", "accepted", "returned")


@dataclass
class Intake:
    """What the intake form collected."""

    what: str
    place: str = ""
    since: str = ""
    wish: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    appeal_type: str = ""  # the citizen's own word when they said it (我要举报), else the classifier's


def file_appeal(*, db_session: Session, routing: Routing, classification: Classification, intake: Intake, now: dt.datetime,
                channel: str = "", conversation_id: str | None = None, dispatch_confidence: float = DISPATCH_CONFIDENCE) -> WorkOrder:
    """The order is written (flushed) here, before the citizen is told its number."""
    if not intake.what.strip():
        raise InvalidInput("请说明发生了什么事")
    appeal_type = intake.appeal_type if intake.appeal_type in APPEAL_TYPES else classification.appeal_type
    order = work_orders.create_work_order(db_session=db_session, category="appeal", description=intake.what, now=now,
                                          contact_phone=intake.contact_phone, contact_name=intake.contact_name,
                                          village=intake.place[:128], channel=channel, conversation_id=conversation_id)
    order.appeal_type, order.place, order.since, order.wish = appeal_type, intake.place[:255], intake.since[:128], intake.wish[:4000]
    order.category1, order.category2 = classification.category1, classification.category2
    order.department, order.confidence, order.urgent = classification.department, classification.confidence, classification.urgent
    order.due_at = as_utc(routing.due_at(now, appeal_type, order.urgent))
    confident = classification.confidence >= dispatch_confidence and not order.urgent  # urgent ones: a person looks first
    order.status = "dispatched" if confident else "review"
    if confident:
        order.dispatched_at = as_utc(now)
    db_session.flush()
    link_hot(db_session=db_session, order=order, now=now)
    audit(db_session=db_session, operator_id=None, action="appeal_filed", target=order.number, now=now,
          detail=f"{order.category1}/{order.category2} → {routing.department_name(order.department)}（置信度 {order.confidence:.2f}）"
                 + ("，已自动派单" if confident else "，待热线确认") + ("，紧急" if order.urgent else ""))
    return order


def _order(db_session: Session, number: str) -> WorkOrder:
    order = work_orders.find_work_order(db_session=db_session, number=number)
    if order is None or order.category != "appeal":
        raise NotFound(f"没有编号为 {number} 的诉求工单")
    return order


DEPARTMENT_SEES = ("dispatched", "accepted", "replied", "closed")  # not what the hotline still reviews, nor returned ones


def _own(order: WorkOrder, operator: Operator) -> None:
    """A department reaches only its own dispatched orders; others do not exist for it (not even their numbers)."""
    if operator.role == "department" and (order.department != operator.department or order.status not in DEPARTMENT_SEES):
        raise NotFound(f"没有编号为 {order.number} 的诉求工单")


def _in_hand(db_session: Session, number: str, operator: Operator, step: str) -> WorkOrder:
    """An order the department holds (dispatched or signed for), for one of its steps."""
    order = _order(db_session, number)
    _own(order, operator)
    if order.status not in ("dispatched", "accepted"):
        raise Conflict(f"工单当前状态是“{_status(order)}”，不能{step}")
    return order


def dispatch(*, db_session: Session, routing: Routing, number: str, operator: Operator, now: dt.datetime, category1: str = "",
             category2: str = "", department: str = "", note: str = "") -> WorkOrder:
    """The hotline confirms or changes the category and department and sends the order (again) to the department."""
    order = _order(db_session, number)
    if order.status not in ("review", "returned", "dispatched"):
        raise Conflict(f"工单当前状态是“{_status(order)}”，不能派单")
    if category1 or category2:
        if category2 not in routing.taxonomy.get(category1, []):
            raise InvalidInput(f"分类“{category1}/{category2}”不在诉求分类表里")
        order.category1, order.category2 = category1, category2
    code = department or (routing.department_for(category1, category2) if (category1 or category2) else order.department)
    if code not in routing.departments:
        raise InvalidInput(f"没有代码为 {code} 的承办部门")
    before = routing.department_name(order.department)
    order.department, order.status, order.dispatched_at, order.accepted_at = code, "dispatched", as_utc(now), None
    order.returned_reason = ""
    order.updated_at = as_utc(now)
    db_session.flush()
    audit(db_session=db_session, operator_id=operator.id, action="appeal_dispatch", target=order.number, now=now,
          detail=f"{order.category1}/{order.category2} → {routing.department_name(code)}（原 {before}）{note}")
    return order


def accept(*, db_session: Session, number: str, operator: Operator, now: dt.datetime) -> WorkOrder:
    order = _order(db_session, number)
    _own(order, operator)
    if order.status != "dispatched":
        raise Conflict(f"工单当前状态是“{_status(order)}”，不能签收")
    order.status, order.accepted_at, order.updated_at = "accepted", as_utc(now), as_utc(now)
    audit(db_session=db_session, operator_id=operator.id, action="appeal_accept", target=order.number, now=now)
    return order


def reply(*, db_session: Session, number: str, operator: Operator, text: str, now: dt.datetime) -> WorkOrder:
    """The department's answer; the caller delivers it to the citizen (bot/appeals/office.py)."""
    order = _in_hand(db_session, number, operator, "答复")
    if len(text.strip()) < 5:
        raise InvalidInput("答复内容太短，请写明办理结果")
    order.reply, order.replied_at, order.status = text.strip()[:4000], as_utc(now), "replied"
    order.accepted_at = order.accepted_at or as_utc(now)
    order.reply_delivered_at, order.updated_at = None, as_utc(now)
    audit(db_session=db_session, operator_id=operator.id, action="appeal_reply", target=order.number, now=now, detail=text[:500])
    return order


def request_extension(*, db_session: Session, number: str, operator: Operator, days: int, reason: str, now: dt.datetime) -> WorkOrder:
    order = _in_hand(db_session, number, operator, "申请延期")
    if not 1 <= days <= 30 or not reason.strip():
        raise InvalidInput("请填写延期天数（1-30个工作日）和理由")
    if order.extension_pending:
        raise Conflict("这张工单已有一份延期申请待热线审核")
    order.extension_days, order.extension_reason, order.extension_pending = days, reason.strip()[:1000], True
    order.updated_at = as_utc(now)
    audit(db_session=db_session, operator_id=operator.id, action="appeal_extension", target=order.number, now=now,
          detail=f"申请延期 {days} 个工作日：{reason[:300]}")
    return order


def decide_extension(*, db_session: Session, routing: Routing, number: str, operator: Operator, approve: bool,
                     now: dt.datetime) -> WorkOrder:
    order = _order(db_session, number)
    if not order.extension_pending:
        raise Conflict("这张工单没有待审核的延期申请")
    order.extension_pending = False
    if approve:
        due = aware(order.due_at)
        assert due is not None  # an appeal is filed with its deadline
        order.due_at = as_utc(routing.add_working_days(due, order.extension_days))
        order.reminded_at = order.overdue_at = None
    else:
        order.extension_days = 0
    order.updated_at = as_utc(now)
    audit(db_session=db_session, operator_id=operator.id, action="appeal_extension_decided", target=order.number, now=now,
          detail="同意延期" if approve else "不同意延期")
    return order


def return_order(*, db_session: Session, number: str, operator: Operator, reason: str, now: dt.datetime) -> WorkOrder:
    """A department sends the order back to the hotline (not ours, wrong place) with the reason."""
    order = _in_hand(db_session, number, operator, "退回")
    if len(reason.strip()) < 4:
        raise InvalidInput("请写明退回理由，例如“不属于本部门职责，建议转交县市场监督管理局”")
    order.status, order.returned_reason, order.updated_at = "returned", reason.strip()[:1000], as_utc(now)
    audit(db_session=db_session, operator_id=operator.id, action="appeal_return", target=order.number, now=now, detail=reason[:500])
    return order


def escalate(*, db_session: Session, number: str, operator: Operator, note: str, now: dt.datetime) -> WorkOrder:
    """督办: the hotline presses the department on an order that is late or stuck; shown to the department first."""
    order = _order(db_session, number)
    if order.status not in ("dispatched", "accepted"):
        raise Conflict(f"工单当前状态是“{_status(order)}”，不需要督办")
    order.escalated_at, order.updated_at = as_utc(now), as_utc(now)
    audit(db_session=db_session, operator_id=operator.id, action="appeal_escalate", target=order.number, now=now, detail=note[:500])
    return order


def reopen(*, db_session: Session, order: WorkOrder, level: str, now: dt.datetime) -> None:
    """A 不满意 rating of the department's answer sends the order back to the hotline's review."""
    order.status, order.reply_delivered_at, order.updated_at = "review", order.reply_delivered_at, as_utc(now)
    audit(db_session=db_session, operator_id=None, action="appeal_reopen", target=order.number, now=now,
          detail=f"市民评价“{level}”，重新审核")


def _status(order: WorkOrder) -> str:
    from bot.handoff.models import WORK_ORDER_STATUSES
    return WORK_ORDER_STATUSES.get(order.status, order.status)


# --- lists ----------------------------------------------------------------------------------------

def list_appeals(*, db_session: Session, operator: Operator, status: str = "", limit: int = 300) -> list[WorkOrder]:
    """A department sees its own orders; the hotline sees all. Urgent, escalated and earliest due first."""
    query = select(WorkOrder).where(WorkOrder.category == "appeal")
    if operator.role == "department":
        query = query.where(WorkOrder.department == operator.department, WorkOrder.status.in_(DEPARTMENT_SEES))
    if status:
        query = query.where(WorkOrder.status == status)
    query = query.order_by(WorkOrder.urgent.desc(), WorkOrder.escalated_at.is_(None), WorkOrder.due_at.is_(None),
                           WorkOrder.due_at, WorkOrder.id).limit(limit)
    return list(db_session.scalars(query))


# --- deadlines ------------------------------------------------------------------------------------

def check_deadlines(*, db_session: Session, routing: Routing, now: dt.datetime) -> tuple[list[WorkOrder], list[WorkOrder]]:
    """Orders due within a working day get one reminder, orders past due one overdue alert (both audited and shown
    in the console); returns (reminded, overdue) of this pass."""
    reminded, overdue = [], []
    open_orders = db_session.scalars(select(WorkOrder).where(WorkOrder.category == "appeal", WorkOrder.status.in_(("dispatched", "accepted")),
                                                             WorkOrder.due_at.is_not(None)))
    for order in open_orders:
        due = aware(order.due_at)
        assert due is not None  # selected with a deadline
        if due <= as_utc(now):
            if order.overdue_at is None:
                order.overdue_at = as_utc(now)
                overdue.append(order)
                audit(db_session=db_session, operator_id=None, action="appeal_overdue", target=order.number, now=now,
                      detail=f"{routing.department_name(order.department)} 已超过办理期限")
        elif order.reminded_at is None and routing.working_days_left(now, due) <= 1:
            order.reminded_at = as_utc(now)
            reminded.append(order)
            audit(db_session=db_session, operator_id=None, action="appeal_reminder", target=order.number, now=now,
                  detail=f"{routing.department_name(order.department)} 的工单将于一个工作日内到期")
    db_session.flush()
    return reminded, overdue


# --- hot issues -----------------------------------------------------------------------------------

def _words(text: str) -> str:
    return " ".join(word for word in jieba.lcut(text) if len(word.strip()) > 1)


def link_hot(*, db_session: Session, order: WorkOrder, now: dt.datetime) -> int | None:
    """Join the order to a group of similar appeals (same second-level class, similar words or the same place) of the
    last HOT_WINDOW_DAYS; the group is named by its first order's id."""
    since = as_utc(now) - dt.timedelta(days=HOT_WINDOW_DAYS)
    recent = db_session.scalars(select(WorkOrder).where(
        WorkOrder.category == "appeal", WorkOrder.category2 == order.category2, WorkOrder.category1 == order.category1,
        WorkOrder.id != order.id, WorkOrder.created_at >= since).order_by(WorkOrder.id.desc()).limit(500))
    words = _words(order.description)
    for other in recent:
        same_place = bool(order.place) and fuzz.partial_ratio(order.place, other.place) >= 90
        if fuzz.token_set_ratio(words, _words(other.description)) >= HOT_SIMILARITY or (
                same_place and fuzz.token_set_ratio(words, _words(other.description)) >= HOT_SIMILARITY - 20):
            order.hot_group = other.hot_group or other.id
            other.hot_group = order.hot_group
            db_session.flush()
            return order.hot_group
    return None


def hot_issues(*, db_session: Session, now: dt.datetime, routing: Routing, days: int = HOT_WINDOW_DAYS, minimum: int = 2) -> list[dict[str, Any]]:
    since = as_utc(now) - dt.timedelta(days=days)
    rows = db_session.execute(select(WorkOrder.hot_group, func.count()).where(
        WorkOrder.category == "appeal", WorkOrder.hot_group.is_not(None), WorkOrder.created_at >= since)
        .group_by(WorkOrder.hot_group).having(func.count() >= minimum).order_by(func.count().desc())).all()
    groups = []
    for group, count in rows:
        orders = list(db_session.scalars(select(WorkOrder).where(WorkOrder.hot_group == group).order_by(WorkOrder.id)))
        first = orders[0]
        places = sorted({o.place for o in orders if o.place})
        groups.append({"group": group, "count": count, "category1": first.category1, "category2": first.category2,
                       "department": routing.department_name(first.department), "summary": first.description[:80],
                       "places": places, "numbers": [o.number for o in orders],
                       "open": sum(o.status in OPEN for o in orders)})
    return groups
