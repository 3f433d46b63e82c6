"""Appeals over HTTP: the classifier for the console and the county's other systems, the hotline's review and
dispatch (派单), 督办 and extension decisions, a department's sign, answer, extension request and return, and the
hot issues. Views only translate HTTP; bot/appeals/service.py decides.

`POST /api/appeals/classify` needs a console session or `Authorization: Bearer <APPEALS_API_TOKEN>` (no token
configured: console sessions only). Everything under /console/api/appeals needs a console session; a department's
account sees only its own department's orders."""
from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bot import errors
from bot.appeals import service
from bot.appeals.office import AppealOffice
from bot.appeals.routing import Routing
from bot.clock import aware, utcnow
from bot.handoff.auth import Auth, current, operator_access, operator_write, signed_in, signed_in_write
from bot.handoff.models import WORK_ORDER_STATUSES, AuditEntry, Operator, WorkOrder
from bot.handoff.views import CHANNELS, run
from bot.privacy import mask

router = APIRouter(tags=["appeals"])
MAX_TEXT = 4000


def _office(request: Request) -> AppealOffice:
    office: AppealOffice = request.app.state.services.appeals
    return office


def _iso(value: dt.datetime | None) -> str | None:
    return aware(value).isoformat() if value else None


class ClassifyRequest(BaseModel):
    text: str = Field(..., min_length=1, max_length=MAX_TEXT, description="诉求内容")


@router.post("/api/appeals/classify")
async def classify(request: Request, body: ClassifyRequest) -> dict[str, Any]:
    """The suggested first- and second-level category, department and confidence of an appeal's text."""
    token = request.app.state.settings.appeals_api_token.get_secret_value()
    given = request.headers.get("authorization", "")
    by_token = bool(token) and given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode())
    if not by_token and await current(request) is None:
        raise HTTPException(status_code=401, detail="请先登录坐席工作台，或在 Authorization 头里提供接口令牌。")
    if not body.text.strip():
        raise errors.InvalidInput("诉求内容不能为空。")
    result = await run_in_threadpool(_office(request).classify, body.text)
    return result.as_dict()


def row(order: WorkOrder, routing: Routing, now: dt.datetime, with_contact: bool = False) -> dict[str, Any]:
    due = aware(order.due_at)
    return {
        "number": order.number, "status": order.status, "status_label": WORK_ORDER_STATUSES.get(order.status, order.status),
        "appeal_type": order.appeal_type, "description": mask(order.description), "place": mask(order.place),
        "since": order.since, "wish": mask(order.wish), "category1": order.category1, "category2": order.category2,
        "department": routing.department_name(order.department), "department_code": order.department,
        "confidence": round(order.confidence or 0.0, 3), "urgent": order.urgent, "channel": CHANNELS.get(order.channel, order.channel),
        "contact_phone": mask(order.contact_phone) if with_contact else "", "due_at": _iso(order.due_at),
        "days_left": routing.working_days_left(now, due) if due else None,
        "overdue": bool(due and due <= now and order.status in ("dispatched", "accepted")),
        "escalated": order.escalated_at is not None, "extension_days": order.extension_days,
        "extension_pending": order.extension_pending, "extension_reason": order.extension_reason,
        "returned_reason": order.returned_reason, "reply": order.reply, "replied_at": _iso(order.replied_at),
        "created_at": _iso(order.created_at), "hot_group": order.hot_group,
    }


@router.get("/console/api/appeals")
async def appeals(request: Request, status: str = "", auth: Auth = Depends(signed_in)) -> dict[str, Any]:
    """Urgent, escalated and earliest due first; a department sees its own orders only."""
    office = _office(request)

    def work(session: Session) -> dict[str, Any]:
        now = utcnow()
        orders = service.list_appeals(db_session=session, operator=auth.operator, status=status)
        return {"appeals": [row(o, office.routing, now) for o in orders], "role": auth.operator.role,
                "department": office.routing.department_name(auth.operator.department)}

    return await run(request, work)


@router.get("/console/api/appeals/meta")
async def meta(request: Request, _auth: Auth = Depends(signed_in)) -> dict[str, Any]:
    routing = _office(request).routing
    return {"taxonomy": routing.taxonomy, "departments": routing.departments, "deadlines": routing.deadlines}


@router.get("/console/api/appeals/hot")
async def hot(request: Request, days: int = 14, _auth: Auth = Depends(operator_access)) -> dict[str, Any]:
    office = _office(request)
    return await run(request, lambda session: {"groups": service.hot_issues(db_session=session, now=utcnow(), routing=office.routing,
                                                                             days=max(1, min(days, 90)))})


@router.get("/console/api/appeals/{number}")
async def appeal(request: Request, number: str, auth: Auth = Depends(signed_in)) -> dict[str, Any]:
    """One order with its suggestion (for the hotline's review) and its audited history."""
    office = _office(request)

    def work(session: Session) -> dict[str, Any]:
        order = service._order(session, number)
        service._own(order, auth.operator)
        history = session.execute(select(AuditEntry, Operator.display_name).outerjoin(Operator, Operator.id == AuditEntry.operator_id)
                                  .where(AuditEntry.target == order.number, AuditEntry.action.like("appeal%"))
                                  .order_by(AuditEntry.id)).all()
        return {**row(order, office.routing, utcnow(), with_contact=True),
                "history": [{"action": e.action, "detail": e.detail, "by": name or "系统", "at": _iso(e.created_at)} for e, name in history]}

    data = await run(request, work)
    if auth.operator.role != "department":  # operator assist: why the classifier suggests what it suggests
        suggestion = await run_in_threadpool(office.classify, data["description"])
        data["suggestion"] = suggestion.as_dict()
    return data


class Dispatch(BaseModel):
    category1: str = Field("", max_length=32)
    category2: str = Field("", max_length=32)
    department: str = Field("", max_length=32)
    note: str = Field("", max_length=500)


def _hotline(auth: Auth) -> None:
    if auth.operator.role == "department":
        raise HTTPException(status_code=403, detail="派单、督办和延期审核由热线坐席办理。")


def _department(auth: Auth) -> None:
    if auth.operator.role != "department":
        raise HTTPException(status_code=403, detail="签收、答复、申请延期和退回由承办部门账号办理。")


async def _change(request: Request, number: str, auth: Auth,
                  change: Callable[[Session, AppealOffice, Operator], WorkOrder]) -> dict[str, Any]:
    office = _office(request)

    def work(session: Session) -> dict[str, Any]:
        order = change(session, office, auth.operator)
        return row(order, office.routing, utcnow())

    return await run(request, work)


@router.post("/console/api/appeals/{number}/dispatch")
async def dispatch(request: Request, number: str, body: Dispatch, auth: Auth = Depends(operator_write)) -> dict[str, Any]:
    """The hotline confirms the suggestion or changes category and department, and sends the order."""
    return await _change(request, number, auth, lambda session, office, operator: service.dispatch(
        db_session=session, routing=office.routing, number=number, operator=operator, now=utcnow(), category1=body.category1,
        category2=body.category2, department=body.department, note=body.note))


class Note(BaseModel):
    note: str = Field("", max_length=500)


@router.post("/console/api/appeals/{number}/escalate")
async def escalate(request: Request, number: str, body: Note, auth: Auth = Depends(operator_write)) -> dict[str, Any]:
    return await _change(request, number, auth, lambda session, office, operator: service.escalate(
        db_session=session, number=number, operator=operator, note=body.note, now=utcnow()))


class Decision(BaseModel):
    approve: bool


@router.post("/console/api/appeals/{number}/extension/decision")
async def decide_extension(request: Request, number: str, body: Decision, auth: Auth = Depends(operator_write)) -> dict[str, Any]:
    return await _change(request, number, auth, lambda session, office, operator: service.decide_extension(
        db_session=session, routing=office.routing, number=number, operator=operator, approve=body.approve, now=utcnow()))


@router.post("/console/api/appeals/{number}/accept")
async def accept(request: Request, number: str, auth: Auth = Depends(signed_in_write)) -> dict[str, Any]:
    _department(auth)
    return await _change(request, number, auth, lambda session, office, operator: service.accept(
        db_session=session, number=number, operator=operator, now=utcnow()))


class Answer(BaseModel):
    text: str = Field(..., max_length=MAX_TEXT)


@router.post("/console/api/appeals/{number}/reply")
async def reply(request: Request, number: str, body: Answer, auth: Auth = Depends(signed_in_write)) -> dict[str, Any]:
    """The department's answer; it is sent to the citizen now, or by the worker until it is delivered."""
    _department(auth)
    data = await _change(request, number, auth, lambda session, office, operator: service.reply(
        db_session=session, number=number, operator=operator, text=body.text, now=utcnow()))
    data["delivered"] = await _office(request).deliver_answer(data["number"])
    return data


class Extension(BaseModel):
    days: int = Field(..., ge=1, le=30)
    reason: str = Field(..., max_length=1000)


@router.post("/console/api/appeals/{number}/extension")
async def request_extension(request: Request, number: str, body: Extension, auth: Auth = Depends(signed_in_write)) -> dict[str, Any]:
    _department(auth)
    return await _change(request, number, auth, lambda session, office, operator: service.request_extension(
        db_session=session, number=number, operator=operator, days=body.days, reason=body.reason, now=utcnow()))


class Return(BaseModel):
    reason: str = Field(..., max_length=1000)


@router.post("/console/api/appeals/{number}/return")
async def return_order(request: Request, number: str, body: Return, auth: Auth = Depends(signed_in_write)) -> dict[str, Any]:
    _department(auth)
    return await _change(request, number, auth, lambda session, office, operator: service.return_order(
        db_session=session, number=number, operator=operator, reason=body.reason, now=utcnow()))
