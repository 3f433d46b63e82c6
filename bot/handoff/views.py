"""The console's JSON API: queue, take-over, messages, hand-back, close, reveals, work orders, ratings
(operators) and accounts, settings, audit log, exports (admins). Views only translate HTTP; the
services and the desk decide. Every call needs a console session; changes need the CSRF token."""
from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bot import errors, push
from bot.clock import TZ, aware, utcnow
from bot.conversations.models import Conversation
from bot.handoff import accounts, audit, duty
from bot.handoff import assist as assist_service
from bot.handoff import queue as queue_service
from bot.handoff import ratings as rating_service
from bot.handoff import work_orders as work_order_service
from bot.handoff.auth import Auth, admin_access, admin_write, login_throttle, operator_access, operator_write
from bot.handoff.login_throttle import LoginThrottle, RedisLoginThrottle
from bot.handoff.models import (
    CLOSE_CATEGORIES,
    HANDOFF_STATUSES,
    REASONS,
    ROLES,
    WORK_ORDER_CATEGORIES,
    WORK_ORDER_STATUSES,
    Handoff,
    Operator,
    Rating,
    WorkOrder,
)
from bot.privacy import mask

router = APIRouter(prefix="/console/api", tags=["console"])
admin_router = APIRouter(prefix="/console/api/admin", tags=["console admin"])
CHANNELS = {"webchat": "网页", "web": "接口", "wechat": "微信", "voice": "电话"}
BATCH = 200
T = TypeVar("T")


async def run(request: Request, work: Callable[[Session], T]) -> T:
    """work(db_session) in the thread pool, in one transaction (service errors reach the app's error handlers)."""
    def call() -> T:
        with request.app.state.database.session() as session:
            return work(session)

    try:
        return await run_in_threadpool(call)
    except ValueError as exc:  # a value the service could not parse (dates, numbers): the reason is Chinese
        if isinstance(exc, errors.AppError):
            raise
        raise errors.InvalidInput(str(exc)) from None


async def act(coroutine: Awaitable[T]) -> T:
    """A desk call (its errors reach the app's error handlers)."""
    return await coroutine


def _iso(value: dt.datetime | None) -> str | None:
    """County time (Asia/Shanghai) with its offset."""
    value = aware(value)
    return value.astimezone(TZ).isoformat() if value else None


# --- queue and conversations ----------------------------------------------------------------------

@router.get("/queue")
async def queue(request: Request, auth: Auth = Depends(operator_access)) -> dict[str, Any]:
    """Waiting, active and handed-back conversations, duty status and who is online."""
    settings, desk = request.app.state.settings, request.app.state.desk

    def work(session: Session) -> dict[str, Any]:
        now = utcnow()
        view = queue_service.queue_view(db_session=session, mask_text=mask)
        config = duty.duty_config(db_session=session, settings=settings)
        rows = {}
        for status, items in view.items():
            rows[status] = [{**asdict(r), "reason_label": REASONS.get(r.reason, r.reason), "channel_label": CHANNELS.get(r.channel, r.channel),
                             "mine": r.operator_id == auth.operator.id} for r in items]
        return {**rows, "duty": {"in_hours": duty.in_duty_hours(config, now, desk.calendar),
                                 "hours": duty.duty_description(config),
                                 "online": duty.operators_online(db_session=session, now=now,
                                                                    presence_seconds=settings.handoff_presence_seconds)},
                "me": {"id": auth.operator.id, "name": auth.operator.display_name, "role": auth.operator.role}}

    return await run(request, work)


def handoff_info(handoff: Handoff | None, operator_name: str | None, me: int) -> dict[str, Any] | None:
    if handoff is None:
        return None
    return {"id": handoff.id, "status": handoff.status, "status_label": HANDOFF_STATUSES[handoff.status],
            "reason": handoff.reason, "reason_label": REASONS.get(handoff.reason, handoff.reason), "priority": handoff.priority,
            "operator": operator_name, "mine": handoff.operator_id == me, "bot_paused": handoff.bot_paused,
            "category": handoff.category, "summary": handoff.summary, "created_at": _iso(handoff.created_at)}


@router.get("/conversations/{conversation_id}/messages")
async def conversation_messages(request: Request, conversation_id: str, after: int = Query(0, ge=0), reveal: bool = False,
                                auth: Auth = Depends(operator_access)) -> dict[str, Any]:
    """The transcript after message id `after`; personal data masked unless this operator revealed it (audited)."""
    minutes = request.app.state.settings.console_reveal_minutes

    def work(session: Session) -> dict[str, Any]:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            raise errors.NotFound("没有这个会话。")
        if reveal and not audit.revealed_recently(db_session=session, operator_id=auth.operator.id, target=conversation_id,
                                                    now=utcnow(), minutes=minutes):
            raise errors.NotAllowed("查看完整个人信息前，请先点“显示个人信息”并填写原因（会记入审计日志）。")
        messages = push.messages_after(db_session=session, conversation_id=conversation_id, after=after, limit=BATCH)
        latest = session.execute(
            select(Handoff, Operator.display_name).outerjoin(Operator, Operator.id == Handoff.operator_id)
            .where(Handoff.conversation_id == conversation_id).order_by(Handoff.id.desc()).limit(1)
        ).first()
        return {
            "conversation": {"id": conversation.id, "channel": conversation.channel,
                             "channel_label": CHANNELS.get(conversation.channel, conversation.channel)},
            "messages": [{"id": m.id, "direction": m.direction, "sender": m.sender, "text": m.text if reveal else mask(m.text),
                          "buttons": [b.get("title", "") for b in m.buttons], "at": m.at} for m in messages],
            "more": len(messages) == BATCH,
            "handoff": handoff_info(latest[0], latest[1], auth.operator.id) if latest else None,
            "revealed": reveal,
        }

    return await run(request, work)


class RevealRequest(BaseModel):
    reason: str = Field(..., min_length=2, max_length=200, description="查看原因，记入审计日志")


@router.post("/conversations/{conversation_id}/reveal")
async def reveal_conversation(request: Request, conversation_id: str, body: RevealRequest, auth: Auth = Depends(operator_write)) -> dict[str, Any]:
    """Allow this operator to see the unmasked transcript for a while; the reveal is audited."""
    def work(session: Session) -> dict[str, Any]:
        if session.get(Conversation, conversation_id) is None:
            raise errors.NotFound("没有这个会话。")
        audit.audit(db_session=session, operator_id=auth.operator.id, action="reveal", target=conversation_id,
                      detail=body.reason.strip(), ip=auth.ip)
        return {"ok": True, "minutes": request.app.state.settings.console_reveal_minutes}

    return await run(request, work)


@router.get("/conversations/{conversation_id}/understanding")
async def understanding(request: Request, conversation_id: str, _auth: Auth = Depends(operator_access)) -> dict[str, Any]:
    """What the bot understood: each turn's intent and confidence, the item in context, whether it is paused."""
    understood: dict[str, Any] = await request.app.state.desk.understanding(conversation_id)
    return understood


@router.get("/conversations/{conversation_id}/assist")
async def assist(request: Request, conversation_id: str, _auth: Auth = Depends(operator_access)) -> dict[str, Any]:
    """Operator assist: the grounded answer to the citizen's last question, the top guide matches and, for an appeal,
    the suggested category and department (bot/handoff/assist.py)."""
    office = request.app.state.services.appeals
    return await run(request, lambda session: assist_service.assist(session, conversation_id, office))


class AppealForCitizen(BaseModel):
    what: str = Field(..., min_length=4, max_length=4000)
    place: str = Field("", max_length=255)
    since: str = Field("", max_length=128)
    wish: str = Field("", max_length=2000)
    contact_phone: str = Field("", max_length=32)
    appeal_type: Literal["投诉", "求助", "举报", "建议", "咨询", ""] = ""
    category1: str = Field("", max_length=32)
    category2: str = Field("", max_length=32)
    department: str = Field("", max_length=32)


@router.post("/conversations/{conversation_id}/appeal", status_code=201)
async def file_appeal(request: Request, conversation_id: str, body: AppealForCitizen, auth: Auth = Depends(operator_write)) -> dict[str, Any]:
    """The operator files the citizen's appeal with the category and department they accepted or chose; it is
    dispatched at once (a person has confirmed the route) and the citizen is told the number."""
    from bot.appeals import service as appeals
    from bot.appeals import texts as appeal_texts

    office = request.app.state.services.appeals

    def channel_of(session: Session) -> str:  # only for a conversation this operator serves now (as sending it a message)
        queue_service.active_handoff_of(db_session=session, conversation_id=conversation_id, operator_id=auth.operator.id)
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None  # it has an active handoff
        return conversation.channel

    channel = await run(request, channel_of)
    intake = appeals.Intake(what=body.what, place=body.place, since=body.since, wish=body.wish, contact_phone=body.contact_phone,
                            appeal_type=body.appeal_type)
    order = await run_in_threadpool(office.file, intake, channel, conversation_id)
    if body.category1 or body.department or order.status != "dispatched":
        order = await run(request, lambda session: appeals.dispatch(
            db_session=session, routing=office.routing, number=order.number, operator=auth.operator, now=utcnow(),
            category1=body.category1, category2=body.category2, department=body.department, note="（坐席代为登记）"))
    told = await request.app.state.desk.say(auth.operator, conversation_id,
                                            appeal_texts.filed(order, office.routing.department_name(order.department)))
    return {"number": order.number, "status": order.status, "department": office.routing.department_name(order.department),
            "delivered": told.delivered}


@router.post("/conversations/{conversation_id}/take")
async def take(request: Request, conversation_id: str, auth: Auth = Depends(operator_write)) -> dict[str, Any]:
    """Take the conversation over: 409 when another operator already has it."""
    joined = await act(request.app.state.desk.take_over(auth.operator, conversation_id, auth.ip))
    return {"ok": True, "handoff_id": joined.handoff_id, "bot_paused": joined.bot_paused, "delivered": joined.delivered}


class SayRequest(BaseModel):
    text: str = Field(..., min_length=1, max_length=2000)


@router.post("/conversations/{conversation_id}/messages")
async def say(request: Request, conversation_id: str, body: SayRequest, auth: Auth = Depends(operator_write)) -> dict[str, Any]:
    """Send the operator's message into the citizen's own channel."""
    pushed = await act(request.app.state.desk.say(auth.operator, conversation_id, body.text))
    return {"message_id": pushed.message_id, "delivered": pushed.delivered}


@router.post("/conversations/{conversation_id}/hand-back")
async def hand_back(request: Request, conversation_id: str, auth: Auth = Depends(operator_write)) -> dict[str, Any]:
    """The bot answers again (Rasa resume event)."""
    await act(request.app.state.desk.hand_back(auth.operator, conversation_id, auth.ip))
    return {"ok": True}


class CloseRequest(BaseModel):
    category: str = Field(..., description="、".join(CLOSE_CATEGORIES))
    summary: str = Field("", max_length=2000)


@router.post("/conversations/{conversation_id}/close")
async def close(request: Request, conversation_id: str, body: CloseRequest, auth: Auth = Depends(operator_write)) -> dict[str, Any]:
    """Close with a category and summary; the citizen is asked to rate the service."""
    before = await act(request.app.state.desk.close(auth.operator, conversation_id, body.category, body.summary, auth.ip))
    return {"ok": True, "was": before}


# --- work orders ----------------------------------------------------------------------------------

def work_order_row(order: WorkOrder, names: dict[int, str], reveal: bool = False) -> dict[str, Any]:
    show = (lambda text: text) if reveal else mask
    return {
        "number": order.number, "category": order.category, "category_label": WORK_ORDER_CATEGORIES[order.category],
        "status": order.status, "status_label": WORK_ORDER_STATUSES[order.status], "description": show(order.description),
        "contact_name": order.contact_name if reveal else (order.contact_name[:1] + "*" * (len(order.contact_name) - 1)),
        "contact_phone": show(order.contact_phone), "village": order.village, "item_name": order.item_name,
        "channel": order.channel, "channel_label": CHANNELS.get(order.channel, order.channel),
        "conversation_id": order.conversation_id, "assignee_id": order.assignee_id, "assignee": names.get(order.assignee_id) if order.assignee_id is not None else None,
        "reply": order.reply, "replied_at": _iso(order.replied_at), "created_at": _iso(order.created_at),
        "updated_at": _iso(order.updated_at), "revealed": reveal,
    }


def operator_names(session: Session) -> dict[int, str]:
    return {o.id: o.display_name for o in accounts.list_operators(db_session=session)}


@router.get("/work-orders")
async def work_orders(request: Request, status: str = "", category: str = "", assignee: str = "", number: str = "",
                      auth: Auth = Depends(operator_access)) -> dict[str, Any]:
    """Work orders, newest first, filtered by status, category, assignee ("mine", "none", an id) or number."""
    filters = work_order_service.WorkOrderFilter(status, category, assignee, number)

    def work(session: Session) -> dict[str, Any]:
        names = operator_names(session)
        orders = work_order_service.list_work_orders(db_session=session, filters=filters, operator_id=auth.operator.id)
        return {"work_orders": [work_order_row(o, names) for o in orders]}

    return await run(request, work)


@router.get("/work-orders/{number}")
async def work_order(request: Request, number: str, reveal: bool = False, auth: Auth = Depends(operator_access)) -> dict[str, Any]:
    minutes = request.app.state.settings.console_reveal_minutes

    def work(session: Session) -> dict[str, Any]:
        order = work_order_service.find_work_order(db_session=session, number=number)
        if order is None:
            raise errors.NotFound(f"没有编号为 {number} 的工单。")
        if reveal and not audit.revealed_recently(db_session=session, operator_id=auth.operator.id, target=order.number,
                                                    now=utcnow(), minutes=minutes):
            raise errors.NotAllowed("查看联系方式前，请先点“显示联系方式”并填写原因（会记入审计日志）。")
        return work_order_row(order, operator_names(session), reveal)

    return await run(request, work)


@router.post("/work-orders/{number}/reveal")
async def reveal_work_order(request: Request, number: str, body: RevealRequest, auth: Auth = Depends(operator_write)) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        if work_order_service.find_work_order(db_session=session, number=number) is None:
            raise errors.NotFound(f"没有编号为 {number} 的工单。")
        audit.audit(db_session=session, operator_id=auth.operator.id, action="reveal", target=number.upper(),
                      detail=body.reason.strip(), ip=auth.ip)
        return {"ok": True}

    return await run(request, work)


class WorkOrderChange(BaseModel):
    status: Literal["new", "in_progress", "replied", "closed", ""] = ""
    assignee: str = Field("", description="me（指派给自己）、none（取消指派）或坐席编号；空为不变")
    reply: str = Field("", max_length=4000)


@router.post("/work-orders/{number}")
async def change_work_order(request: Request, number: str, body: WorkOrderChange, auth: Auth = Depends(operator_write)) -> dict[str, Any]:
    """Assign, change status, reply; a reply also reaches the citizen's conversation (web chat, WeChat)."""
    if body.assignee == "me":
        assignee: int | None | str = auth.operator.id
    elif body.assignee == "none":
        assignee = None
    elif body.assignee.isdigit():
        assignee = int(body.assignee)
    elif body.assignee:
        raise HTTPException(status_code=422, detail="指派对象应为 me、none 或坐席编号。")
    else:
        assignee = "unchanged"

    def work(session: Session) -> dict[str, Any]:
        order, changes = work_order_service.update_work_order(db_session=session, number=number, now=utcnow(), status=body.status or None,
                                                   assignee_id=assignee, reply=body.reply or None)
        audit.audit(db_session=session, operator_id=auth.operator.id, action="work_order", target=order.number,
                      detail="；".join(changes), ip=auth.ip)
        return work_order_row(order, operator_names(session))

    row = await run(request, work)
    row["delivered"] = await request.app.state.desk.reply_work_order(number) if body.reply.strip() else False
    return row


# --- ratings --------------------------------------------------------------------------------------

def rating_rows(session: Session, rows: list[Rating]) -> list[dict[str, Any]]:
    numbers = {o.id: o.number for o in session.scalars(select(WorkOrder).where(
        WorkOrder.id.in_([r.work_order_id for r in rows if r.work_order_id])))}
    return [{"id": r.id, "level": r.level, "score": r.score, "comment": mask(r.comment), "channel": r.channel,
             "channel_label": CHANNELS.get(r.channel, r.channel), "conversation_id": r.conversation_id, "handoff_id": r.handoff_id,
             "work_order": numbers.get(r.work_order_id) if r.work_order_id is not None else None, "created_at": _iso(r.created_at)} for r in rows]


@router.get("/ratings")
async def ratings(request: Request, level: str = "", _auth: Auth = Depends(operator_access)) -> dict[str, Any]:
    """Ratings, newest first, with the count per level."""
    def work(session: Session) -> dict[str, Any]:
        rows, summary = rating_service.list_ratings(db_session=session, level=level)
        return {"summary": asdict(summary), "ratings": rating_rows(session, rows)}

    return await run(request, work)


# --- admin: accounts, settings, audit, exports ----------------------------------------------------

def operator_row(operator: Operator, throttle: LoginThrottle | RedisLoginThrottle | None = None) -> dict[str, Any]:
    """One account for the admin list; `locked`: some address must wait before trying it again (login back-off)."""
    locked = aware(operator.locked_until)
    throttled = throttle is not None and throttle.blocked(operator.username)
    return {"id": operator.id, "username": operator.username, "display_name": operator.display_name, "role": operator.role,
            "role_label": ROLES[operator.role], "department": operator.department, "active": operator.active,
            "locked": bool(locked and locked > utcnow()) or throttled, "last_seen_at": _iso(operator.last_seen_at)}


@admin_router.get("/operators")
async def operators(request: Request, _auth: Auth = Depends(admin_access)) -> dict[str, Any]:
    throttle = login_throttle(request.app)
    return await run(request, lambda s: {"operators": [operator_row(o, throttle) for o in accounts.list_operators(db_session=s)]})


class NewOperator(BaseModel):
    username: str = Field(..., min_length=2, max_length=32)
    display_name: str = Field("", max_length=64, description="群众看到的称呼，例如“12号坐席”")
    role: Literal["operator", "admin", "department"] = "operator"
    department: str = Field("", max_length=32, description="承办部门账号的部门代码（bot/appeals/routing.yaml）")
    password: str = Field(..., min_length=1, max_length=200)


@admin_router.post("/operators", status_code=201)
async def add_operator(request: Request, body: NewOperator, auth: Auth = Depends(admin_write)) -> dict[str, Any]:
    if body.department and body.department not in request.app.state.services.appeals.routing.departments:
        raise errors.InvalidInput(f"没有代码为 {body.department} 的承办部门。")

    def work(session: Session) -> dict[str, Any]:
        operator = accounts.create_operator(db_session=session, username=body.username, password=body.password, role=body.role,
                                            display_name=body.display_name, department=body.department or None)
        audit.audit(db_session=session, operator_id=auth.operator.id, action="account", target=operator.username,
                      detail=f"新建账号（{ROLES[operator.role]}）", ip=auth.ip)
        return operator_row(operator)

    return await run(request, work)


class OperatorChange(BaseModel):
    action: Literal["disable", "enable", "unlock", "password"]
    password: str = Field("", max_length=200)


@admin_router.post("/operators/{operator_id}")
async def change_operator(request: Request, operator_id: int, body: OperatorChange, auth: Auth = Depends(admin_write)) -> dict[str, Any]:
    if body.action == "disable" and operator_id == auth.operator.id:
        raise HTTPException(status_code=422, detail="不能停用自己的账号。")

    def work(session: Session) -> dict[str, Any]:
        if body.action == "password":
            accounts.set_password(db_session=session, operator_id=operator_id, password=body.password)
        elif body.action == "unlock":
            login_throttle(request.app).clear(accounts.unlock(db_session=session, operator_id=operator_id).username)
        else:
            accounts.set_active(db_session=session, operator_id=operator_id, active=body.action == "enable")
        operator = session.get(Operator, operator_id)
        assert operator is not None  # changed above, or NotFound
        labels = {"disable": "停用", "enable": "启用", "unlock": "解锁", "password": "重设密码"}
        audit.audit(db_session=session, operator_id=auth.operator.id, action="account", target=operator.username,
                      detail=labels[body.action], ip=auth.ip)
        return operator_row(operator)

    return await run(request, work)


class DutySettings(BaseModel):
    duty_hours: str = Field(..., max_length=200, description="如 08:30-12:00,14:00-18:00")
    duty_days: Literal["workdays", "every_day"]
    sensitive_words: str = Field("", max_length=5000, description="每行一个，或用逗号分隔")


@admin_router.get("/settings")
async def get_settings(request: Request, _auth: Auth = Depends(admin_access)) -> dict[str, Any]:
    config = await run(request, lambda s: duty.duty_config(db_session=s, settings=request.app.state.settings))
    return {"duty_hours": config.hours, "duty_days": config.days, "sensitive_words": config.sensitive_words,
            "description": duty.duty_description(config)}


@admin_router.post("/settings")
async def save_settings(request: Request, body: DutySettings, auth: Auth = Depends(admin_write)) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        config = duty.save_duty_config(db_session=session, hours=body.duty_hours, days=body.duty_days,
                                          sensitive_words=duty.split_words(body.sensitive_words))
        audit.audit(db_session=session, operator_id=auth.operator.id, action="settings", target="duty",
                      detail=f"{duty.duty_description(config)}；敏感词{len(config.sensitive_words)}个", ip=auth.ip)
        return {"duty_hours": config.hours, "duty_days": config.days, "sensitive_words": config.sensitive_words,
                "description": duty.duty_description(config)}

    return await run(request, work)


@admin_router.get("/audit")
async def audit_log(request: Request, action: str = "", _auth: Auth = Depends(admin_access)) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        return {"entries": [{"id": e.id, "operator": name, "action": e.action, "target": e.target, "detail": e.detail,
                             "ip": e.ip, "at": _iso(e.created_at)} for e, name in audit.list_audit(db_session=session, action=action)]}

    return await run(request, work)


EXPORTS: dict[str, tuple[type[WorkOrder] | type[Rating] | type[Handoff], list[str]]] = {
    "work-orders": (WorkOrder, ["number", "category", "status", "description", "contact_name", "contact_phone", "village",
                                "item_name", "channel", "conversation_id", "assignee_id", "reply", "created_at", "updated_at"]),
    "ratings": (Rating, ["id", "level", "score", "comment", "channel", "conversation_id", "handoff_id", "work_order_id", "created_at"]),
    "handoffs": (Handoff, ["id", "conversation_id", "channel", "reason", "priority", "status", "operator_id", "category", "summary",
                           "created_at", "taken_at", "returned_at", "closed_at"]),
}


@admin_router.get("/export/{kind}.csv")
async def export(request: Request, kind: str, auth: Auth = Depends(admin_access)) -> Response:
    """CSV (UTF-8 with BOM, opens in Excel) of work orders, ratings or handoffs; the export is audited."""
    if kind not in EXPORTS:
        raise HTTPException(status_code=404, detail=f"可以导出的有：{'、'.join(EXPORTS)}")
    model, columns = EXPORTS[kind]

    def work(session: Session) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(columns)
        count = 0
        for row in session.scalars(select(model).order_by(model.id)):
            writer.writerow([_iso(v) if hasattr(v, "isoformat") else ("" if v is None else v) for v in (getattr(row, c) for c in columns)])
            count += 1
        audit.audit(db_session=session, operator_id=auth.operator.id, action="export", target=kind, detail=f"{count}条", ip=auth.ip)
        return out.getvalue()

    body = await run(request, work)
    return Response("\ufeff" + body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{kind}.csv"', "Cache-Control": "no-store"})

