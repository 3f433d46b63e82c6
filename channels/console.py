"""The operator console (`/console`): login and logout, the workbench (waiting and active lists), a
conversation (transcript, what the bot understood, take over, messages, hand back, close), work orders,
ratings, appeals (诉求工单: the hotline's review and dispatch, hot issues, a department's sign, answer,
extension and return), and for admins accounts, duty hours and sensitive words, the audit log and exports, and
the knowledge (guides to review, editing a guide with a preview, versions and rollback).

Pages are rendered here; everything that changes data goes through the JSON API in bot/handoff/views.py and
bot/appeals/views.py from static/console/console.js with the session's CSRF token. No page without a login;
admin pages answer 403 to operators; a department's account reaches only the appeals pages (any other page
sends it to /console/appeals).
"""
from __future__ import annotations

import datetime as dt
import hmac
import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bot import errors
from bot.appeals import service as appeal_service
from bot.appeals.office import AppealOffice
from bot.appeals.routing import Routing
from bot.appeals.views import row as appeal_row
from bot.clock import TZ, aware, utcnow
from bot.conversations.models import Conversation
from bot.handoff import accounts, audit, auth, duty, ratings, work_orders
from bot.handoff.models import (
    CLOSE_CATEGORIES,
    RATING_LEVELS,
    ROLES,
    WORK_ORDER_CATEGORIES,
    WORK_ORDER_STATUSES,
    AuditEntry,
    Operator,
    WorkOrder,
)
from bot.handoff.views import CHANNELS, operator_row, rating_rows, work_order_row
from bot.privacy import mask
from knowledge import editing, versions
from knowledge.versions import VersionInfo

logger = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
HERE = Path(__file__).resolve().parent
STATIC = HERE / "static" / "console"
STATIC_FILES = {"console.js": "text/javascript", "console.css": "text/css"}
templates = Jinja2Templates(directory=str(HERE / "templates"))
MAX_FORM_BYTES = 8 * 1024
T = TypeVar("T")


def local_time(value: dt.datetime | None) -> str:
    """A stored UTC time as county time, for the pages."""
    value = aware(value)
    return value.astimezone(TZ).strftime("%Y-%m-%d %H:%M:%S") if value else ""


templates.env.filters["local"] = local_time

HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
}


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    return templates.TemplateResponse(request, f"console/{name}", context, status_code=status, headers=HEADERS)


def to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/console/login?next={quote(target)}", status_code=303)


DEPARTMENT_HOME = "/console/appeals"


def is_department(who: auth.Auth) -> bool:
    return who.operator.role == "department"


async def signed_in(request: Request, admin: bool = False, appeals: bool = False) -> auth.Auth | Response:
    """The operator, or the response to send instead: the login page, 403 for an operator on an admin page, or
    for a department's account on any page but the appeals pages (`appeals=True`) a redirect to its appeals."""
    who = await auth.current(request)
    if who is None:
        return to_login(request)
    if is_department(who) and not appeals:
        return RedirectResponse(DEPARTMENT_HOME, status_code=303)
    if admin and not who.is_admin:
        return page(request, "error.html", {**base_context(who, ""), "title": "没有权限",
                                            "message": "这个页面只有管理员可以使用。如需调整，请联系管理员。"}, status=403)
    return who


def base_context(who: auth.Auth, active: str) -> dict[str, Any]:
    return {"me": who, "csrf_token": who.csrf_token, "active": active}


async def in_session(request: Request, work: Callable[[Session], T]) -> T:
    def call() -> T:
        with request.app.state.database.session() as session:
            return work(session)

    return await run_in_threadpool(call)


# --- login ----------------------------------------------------------------------------------------

def safe_next(target: str | None) -> str:
    return target if target and target.startswith("/console") and not target.startswith("//") else "/console"


@router.get("/console/login")
async def login_page(request: Request, next: str = "/console") -> Response:
    if await auth.current(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return login_form(request, safe_next(next))


def login_form(request: Request, next_url: str, error: str = "", username: str = "", status: int = 200) -> Response:
    """The login page with a fresh double-submit token (hidden field and cookie)."""
    token = secrets.token_urlsafe(24)
    response = page(request, "login.html", {"next": next_url, "error": error, "username": username, "login_token": token}, status)
    auth.set_login_cookie(response, request.app.state.settings, token)
    return response


async def form_fields(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


@router.post("/console/login")
async def login(request: Request) -> Response:
    settings = request.app.state.settings
    form = await form_fields(request)
    next_url = safe_next(form.get("next"))
    username = form.get("username", "").strip()[:64]

    def again(error: str, status: int) -> Response:
        return login_form(request, next_url, error, username, status)

    if not auth.login_token_ok(request, settings, form.get("login_token", "")):
        return again("页面已过期或来源不明，请重新输入用户名和密码登录。", 403)
    if await auth.login_limiter(request.app).hit(auth.client_ip(request)):
        return again("登录尝试太频繁了，请稍后再试。", 429)
    throttle, ip = auth.login_throttle(request.app), auth.client_ip(request)
    wait = throttle.wait(username, ip)
    if wait > 0:  # the same answer whether or not the name exists
        return again(f"登录失败次数过多，请{max(1, round(wait / 60))}分钟后再试。", 429)

    def work(session: Session) -> str | tuple[accounts.NewSession, str]:
        now = utcnow()
        try:
            operator = accounts.authenticate(db_session=session, username=username, password=form.get("password", ""), now=now)
        except accounts.LoginRefused as refused:
            if refused.message == accounts.WRONG:
                throttle.failed(username, ip)
            known = session.scalar(select(Operator.id).where(Operator.username == username))
            audit.audit(db_session=session, operator_id=known, action="login_failed", target=username, detail=refused.message,
                          ip=auth.client_ip(request))
            return refused.message
        throttle.succeeded(username, ip)
        new = accounts.start_session(db_session=session, operator_id=operator.id, now=now, ip=auth.client_ip(request))
        audit.audit(db_session=session, operator_id=operator.id, action="login", target=operator.username, ip=auth.client_ip(request))
        return new, operator.role

    result = await in_session(request, work)
    if isinstance(result, str):
        return again(result, 401)
    new, role = result
    if role == "department" and not next_url.startswith(DEPARTMENT_HOME):  # a department's account has only its appeals
        next_url = DEPARTMENT_HOME
    response = RedirectResponse(next_url, status_code=303)
    auth.set_session_cookie(response, settings, new.token)
    response.delete_cookie(auth.login_cookie_name(settings), path="/", secure=settings.console_cookie_secure, httponly=True,
                           samesite="strict")
    return response


@router.post("/console/logout")
async def logout(request: Request) -> Response:
    """Logout needs the CSRF token too (a form field here), so another site cannot log an operator out."""
    settings = request.app.state.settings
    who = await auth.current(request)
    response = RedirectResponse("/console/login", status_code=303)
    if who is None:
        return response
    form = await form_fields(request)
    if not hmac.compare_digest(form.get("csrf_token", "").encode(), who.csrf_token.encode()) or not auth.same_origin(request):
        return JSONResponse({"detail": "安全校验失败（CSRF 令牌缺失或不正确），请刷新页面后重试。"}, status_code=403)
    token = request.cookies.get(auth.cookie_name(settings), "")

    def work(session: Session) -> None:
        accounts.end_session(db_session=session, token=token)
        audit.audit(db_session=session, operator_id=who.operator.id, action="logout", target=who.operator.username, ip=who.ip)

    await in_session(request, work)
    auth.clear_session_cookie(response, settings)
    return response


# --- operator pages -------------------------------------------------------------------------------

@router.get("/console")
async def workbench(request: Request) -> Response:
    who = await signed_in(request)
    if isinstance(who, Response):
        return who
    return page(request, "workbench.html", base_context(who, "workbench"))


@router.get("/console/conversations/{conversation_id}")
async def conversation_page(request: Request, conversation_id: str) -> Response:
    who = await signed_in(request)
    if isinstance(who, Response):
        return who
    conversation = await in_session(request, lambda s: s.get(Conversation, conversation_id))
    if conversation is None:
        return page(request, "error.html", {**base_context(who, "workbench"), "title": "没有这个会话",
                                            "message": "会话编号不存在，请从工作台的列表进入。"}, status=404)
    return page(request, "conversation.html", {**base_context(who, "workbench"), "conversation": conversation,
                                               "channel_label": CHANNELS.get(conversation.channel, conversation.channel),
                                               "categories": CLOSE_CATEGORIES})


@router.get("/console/work-orders")
async def work_orders_page(request: Request, status: str = "", category: str = "", assignee: str = "", number: str = "") -> Response:
    who = await signed_in(request)
    if isinstance(who, Response):
        return who
    filters = work_orders.WorkOrderFilter(status, category, assignee, number)

    def work(session: Session) -> tuple[list[dict[str, Any]], dict[int, str]]:
        names = {o.id: o.display_name for o in accounts.list_operators(db_session=session)}
        orders = work_orders.list_work_orders(db_session=session, filters=filters, operator_id=who.operator.id)
        return [work_order_row(o, names) for o in orders], names

    orders, names = await in_session(request, work)
    return page(request, "work_orders.html", {**base_context(who, "work_orders"), "orders": orders, "filters": filters,
                                              "statuses": WORK_ORDER_STATUSES, "categories": WORK_ORDER_CATEGORIES,
                                              "operators": names})


@router.get("/console/work-orders/{number}")
async def work_order_page(request: Request, number: str) -> Response:
    who = await signed_in(request)
    if isinstance(who, Response):
        return who

    def work(session: Session) -> tuple[dict[str, Any] | None, dict[int, str]]:
        order = work_orders.find_work_order(db_session=session, number=number)
        names = {o.id: o.display_name for o in accounts.list_operators(db_session=session) if o.active}
        return (work_order_row(order, names) if order else None), names

    order, names = await in_session(request, work)
    if order is None:
        return page(request, "error.html", {**base_context(who, "work_orders"), "title": "没有这个工单",
                                            "message": f"没有编号为 {number} 的工单。"}, status=404)
    return page(request, "work_order.html", {**base_context(who, "work_orders"), "order": order, "statuses": WORK_ORDER_STATUSES,
                                             "operators": names})


@router.get("/console/ratings")
async def ratings_page(request: Request, level: str = "") -> Response:
    who = await signed_in(request)
    if isinstance(who, Response):
        return who
    def work(session: Session) -> tuple[list[dict[str, Any]], ratings.RatingSummary]:
        rows, summary = ratings.list_ratings(db_session=session, level=level)
        return rating_rows(session, rows), summary

    rows, summary = await in_session(request, work)
    return page(request, "ratings.html", {**base_context(who, "ratings"), "ratings": rows, "summary": summary,
                                          "levels": list(RATING_LEVELS), "level": level})


# --- appeals (诉求工单) ----------------------------------------------------------------------------

APPEAL_STATUSES = ("review", "dispatched", "accepted", "returned", "replied", "closed")
DEPARTMENT_STATUSES = ("dispatched", "accepted", "replied", "closed")  # what a department's account is shown
APPEAL_ACTIONS = {"appeal_filed": "登记", "appeal_dispatch": "派单", "appeal_accept": "签收", "appeal_reply": "答复",
                  "appeal_extension": "申请延期", "appeal_extension_decided": "延期审核", "appeal_return": "退回热线",
                  "appeal_escalate": "督办", "appeal_reopen": "重新审核", "appeal_reminder": "到期提醒", "appeal_overdue": "超期"}


def _local_minute(iso: str | None) -> str:
    return iso[:16].replace("T", " ") if iso else ""


def appeal_page_row(order: WorkOrder, routing: Routing, now: dt.datetime, with_contact: bool = False) -> dict[str, Any]:
    """The API's row (bot/appeals/views.py) plus what the pages print: the deadline in county time and the days
    left in words, and the badges."""
    data = appeal_row(order, routing, now, with_contact=with_contact)
    due = aware(order.due_at)
    data["due_local"] = due.astimezone(TZ).strftime("%Y-%m-%d %H:%M") if due else ""
    data["created_local"] = local_time(order.created_at)[:16]
    days, open_order = data["days_left"], order.status in appeal_service.OPEN
    if due is None:
        data["days_label"] = ""
    elif data["overdue"]:
        data["days_label"] = f"已超期 {-days} 个工作日" if days is not None and days < 0 else "已超期"
    elif not open_order:
        data["days_label"] = ""
    elif days == 0:
        data["days_label"] = "今天到期"
    else:
        data["days_label"] = f"剩 {days} 个工作日"
    data["badges"] = [label for label, on in (("紧急", order.urgent), ("已超期", data["overdue"]), ("督办", data["escalated"]),
                                              ("延期待审", order.extension_pending)) if on]
    return data


def appeals_context(request: Request, who: auth.Auth) -> dict[str, Any]:
    routing = request.app.state.services.appeals.routing
    department = is_department(who)
    statuses = DEPARTMENT_STATUSES if department else APPEAL_STATUSES
    return {**base_context(who, "appeals"), "is_department": department,
            "department_name": routing.department_name(who.operator.department) if department else "",
            "appeal_statuses": {k: WORK_ORDER_STATUSES[k] for k in statuses}}


@router.get("/console/appeals")
async def appeals_page(request: Request, status: str = "") -> Response:
    """The list: a department's own orders, or for the hotline every order and the hot issues."""
    who = await signed_in(request, appeals=True)
    if isinstance(who, Response):
        return who
    context = appeals_context(request, who)
    routing = request.app.state.services.appeals.routing
    status = status if status in context["appeal_statuses"] else ""

    def work(session: Session) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        now = utcnow()
        orders = appeal_service.list_appeals(db_session=session, operator=who.operator, status=status)
        hot = [] if context["is_department"] else appeal_service.hot_issues(db_session=session, now=now, routing=routing)
        for group in hot:  # personal data stays masked on the pages, as in the rows
            group["summary"], group["places"] = mask(group["summary"]), [mask(place) for place in group["places"]]
        return [appeal_page_row(o, routing, now) for o in orders], hot

    orders, hot = await in_session(request, work)
    return page(request, "appeals.html", {**context, "orders": orders, "hot": hot, "status": status,
                                          "hot_days": appeal_service.HOT_WINDOW_DAYS})


def _suggestion(office: AppealOffice, text: str) -> tuple[dict[str, Any] | None, str]:
    """The classifier's suggestion for the hotline (operator assist), or why there is none."""
    try:
        return office.classify(text).as_dict(), ""
    except Exception:  # noqa: BLE001  (no examples to train on, a broken model: the page still works without it)
        logger.exception("appeal suggestion failed")
        return None, "暂时无法给出分类建议，请按诉求内容人工选择分类和承办部门。"


@router.get("/console/appeals/{number}")
async def appeal_page(request: Request, number: str) -> Response:
    """One order: its details and history; the hotline's review (suggestion, dispatch, 督办, extension decision) or
    the department's sign, answer, extension request and return."""
    who = await signed_in(request, appeals=True)
    if isinstance(who, Response):
        return who
    context = appeals_context(request, who)
    office = request.app.state.services.appeals
    routing = office.routing

    def work(session: Session) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        try:
            order = appeal_service._order(session, number)
            appeal_service._own(order, who.operator)
        except errors.NotFound:
            return None, []
        if context["is_department"] and order.status not in DEPARTMENT_STATUSES:
            return None, []  # still with the hotline: not the department's yet
        history = session.execute(select(AuditEntry, Operator.display_name).outerjoin(Operator, Operator.id == AuditEntry.operator_id)
                                  .where(AuditEntry.target == order.number, AuditEntry.action.like("appeal%"))
                                  .order_by(AuditEntry.id)).all()
        return appeal_page_row(order, routing, utcnow(), with_contact=True), [
            {"action": APPEAL_ACTIONS.get(e.action, e.action), "detail": e.detail, "by": name or "系统", "at": local_time(e.created_at)[:16]}
            for e, name in history]

    order, history = await in_session(request, work)
    if order is None:
        return page(request, "error.html", {**context, "title": "没有这个诉求工单",
                                            "message": f"没有编号为 {number} 的诉求工单，或者它不由本部门办理。"}, status=404)
    suggestion, suggestion_error = (None, "")
    if not context["is_department"]:
        suggestion, suggestion_error = await run_in_threadpool(_suggestion, office, order["description"])
    routes = {f"{first}/{second}": routing.department_for(first, second)
              for first, seconds in routing.taxonomy.items() for second in seconds}
    return page(request, "appeal.html", {**context, "order": order, "history": history, "suggestion": suggestion,
                                         "suggestion_error": suggestion_error, "taxonomy": routing.taxonomy,
                                         "departments": routing.departments, "routes": routes})


# --- admin pages ----------------------------------------------------------------------------------

@router.get("/console/admin/users")
async def users_page(request: Request) -> Response:
    who = await signed_in(request, admin=True)
    if isinstance(who, Response):
        return who
    rows = await in_session(request, lambda s: [operator_row(o) for o in accounts.list_operators(db_session=s)])
    return page(request, "admin_users.html", {**base_context(who, "users"), "operators": rows, "roles": ROLES})


@router.get("/console/admin/settings")
async def settings_page(request: Request) -> Response:
    who = await signed_in(request, admin=True)
    if isinstance(who, Response):
        return who
    config = await in_session(request, lambda s: duty.duty_config(db_session=s, settings=request.app.state.settings))
    return page(request, "admin_settings.html", {**base_context(who, "settings"), "config": config,
                                                 "description": duty.duty_description(config)})


@router.get("/console/admin/personal-data")
async def personal_data_page(request: Request) -> Response:
    """A citizen's request about their personal data (个人信息查阅、删除): export or erase, with the reason audited."""
    who = await signed_in(request, admin=True)
    if isinstance(who, Response):
        return who
    return page(request, "admin_personal_data.html", base_context(who, "personal_data"))


@router.get("/console/admin/audit")
async def audit_page(request: Request, action: str = "") -> Response:
    who = await signed_in(request, admin=True)
    if isinstance(who, Response):
        return who
    entries = await in_session(request, lambda s: audit.list_audit(db_session=s, action=action))
    return page(request, "admin_audit.html", {**base_context(who, "audit"), "entries": entries, "action": action,
                                              "actions": ["login", "login_failed", "logout", "reveal", "take_over", "hand_back",
                                                          "close", "work_order", "account", "settings", "export",
                                                          "knowledge", "booking"]})


@router.get("/console/admin/knowledge")
async def knowledge_page(request: Request, q: str = "") -> Response:
    """Versions (with rollback), guides due for review, and items to edit by name."""
    who = await signed_in(request, admin=True)
    if isinstance(who, Response):
        return who
    settings = request.app.state.settings

    def work(session: Session) -> tuple[list[VersionInfo], list[tuple[str, str, str]], list[tuple[str, Any, Any]]]:
        content = versions.content_of(db_session=session)
        due = editing.due_for_review(content, utcnow().astimezone(TZ).date(), settings.knowledge_review_days)
        found = [(i, d["事项名称"], d["实施主体"]) for i, d in content.items.items() if q and q.strip() in d["事项名称"]][:30]
        return versions.versions(db_session=session)[:50], due, found

    rows, due, found = await in_session(request, work)
    return page(request, "admin_knowledge.html", {**base_context(who, "knowledge"), "versions": rows, "due": due,
                                                  "found": found, "q": q, "days": settings.knowledge_review_days})


@router.get("/console/admin/knowledge/{item_id}")
async def guide_edit_page(request: Request, item_id: str) -> Response:
    """The guide form: the schema's fields, sample fields marked, checked as typed, previewed, published."""
    who = await signed_in(request, admin=True)
    if isinstance(who, Response):
        return who

    def work(session: Session) -> tuple[int | None, dict[str, Any] | None]:
        number = versions.latest_number(db_session=session)
        return number, versions.content_of(db_session=session, number=number).items.get(item_id)

    number, document = await in_session(request, work)
    if document is None:
        return page(request, "error.html", {**base_context(who, "knowledge"), "title": "没有这个事项",
                                            "message": f"当前版本中没有编号为 {item_id} 的事项。"}, status=404)
    return page(request, "admin_guide.html", {**base_context(who, "knowledge"), "item_id": item_id, "base": number,
                                              "name": document["事项名称"], "form": editing.as_form(document),
                                              "sample": document.get("示例字段") or [], "multiline": MULTILINE})


MULTILINE = {"别名", "关键词", "常见问法", "常见情形", "受理条件", "申请材料", "办理流程", "设定依据", "常见问题", "收费标准", "时限说明"}


@router.get("/static/console/{name}")
async def asset(name: str) -> Response:
    if name not in STATIC_FILES:
        return JSONResponse({"error": "没有这个文件"}, status_code=404)
    return FileResponse(STATIC / name, media_type=STATIC_FILES[name], headers={"Cache-Control": "no-cache"})

