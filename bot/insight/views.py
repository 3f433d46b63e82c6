"""The console's insight API for admins: the dashboard's figures and their XLSX export, a booking's attendance, and
the review inbox (groups of missed questions, each turned into a knowledge version). Views only translate HTTP."""
from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bot import errors
from bot.clock import TZ, utcnow
from bot.handoff import audit
from bot.handoff.auth import Auth, admin_access, admin_write
from bot.insight import attendance, dashboard, inbox
from knowledge import fitted, versions
from knowledge import service as knowledge_service
from knowledge.content import Content
from knowledge.pinned import PinnedAnswer
from knowledge.pinned import reply as pinned_reply
from knowledge.search import SearchIndex

T = TypeVar("T")
router = APIRouter(prefix="/console/api/admin/insight", tags=["console admin"])


def _session(request: Request, work: Callable[[Session], T]) -> Awaitable[T]:
    def call() -> T:
        with request.app.state.database.session() as session:
            return work(session)

    return run_in_threadpool(call)


def date_range(start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    """The requested county days (default: the last 30), checked."""
    default_start, default_end = dashboard.default_range(utcnow().astimezone(TZ).date())
    start, end = start or (end - dt.timedelta(days=29) if end else default_start), end or default_end
    if not (dt.date(2000, 1, 1) <= start and end <= dt.date(2100, 12, 31)):
        raise errors.InvalidInput("日期应在 2000 年至 2100 年之间。")
    if start > end:
        raise errors.InvalidInput("开始日期不能晚于结束日期。")
    if (end - start).days >= dashboard.MAX_DAYS:
        raise errors.InvalidInput(f"一次最多统计 {dashboard.MAX_DAYS} 天，请缩短日期范围。")
    return start, end


async def figures_for(request: Request, start: dt.date | None, end: dt.date | None) -> dict[str, Any]:
    start, end = date_range(start, end)
    schedule = request.app.state.services.schedule
    return await _session(request, lambda s: dashboard.figures(db_session=s, start=start, end=end, schedule=schedule,
                                                                  routing=request.app.state.services.appeals.routing))


@router.get("/dashboard")
async def dashboard_figures(request: Request, start: dt.date | None = Query(None), end: dt.date | None = Query(None),
                            _auth: Auth = Depends(admin_access)) -> dict[str, Any]:
    """Every figure of the dashboard for county days start..end (default: the last 30 days)."""
    return await figures_for(request, start, end)


@router.get("/dashboard.xlsx")
async def dashboard_export(request: Request, start: dt.date | None = Query(None), end: dt.date | None = Query(None),
                           auth: Auth = Depends(admin_access)) -> Response:
    """The same figures as an XLSX workbook (the export is audited)."""
    data = await figures_for(request, start, end)
    body = await run_in_threadpool(dashboard.workbook, data)
    await _session(request, lambda s: audit.audit(db_session=s, operator_id=auth.operator.id, action="export", target="dashboard",
                                                  detail=f"{data['start']} 至 {data['end']}", ip=auth.ip))
    name = f"dashboard-{data['start']}-{data['end']}.xlsx"
    return Response(body, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


class Attendance(BaseModel):
    status: str = Field(..., pattern="^(attended|no_show)$", description="attended 已到场 | no_show 未到场")


@router.post("/bookings/{code}/attendance")
async def mark_attendance(request: Request, code: str, body: Attendance, auth: Auth = Depends(admin_write)) -> dict[str, Any]:
    """Mark whether the citizen came to a booking (for the no-show figures); marking again changes it (audited)."""
    return await _session(request, lambda s: attendance.mark(db_session=s, code=code, status=body.status,
                                                             operator_id=auth.operator.id, ip=auth.ip))


# --- the review inbox ------------------------------------------------------------------------------

@router.get("/inbox")
async def inbox_groups(request: Request, _auth: Auth = Depends(admin_access)) -> dict[str, Any]:
    """The questions for review, grouped by similarity, the largest groups first."""
    return {"groups": await _session(request, lambda s: inbox.groups(db_session=s))}


class GroupFix(BaseModel):
    action: str = Field(..., pattern="^(question|alias)$", description="question: 常见问法; alias: 别名")
    item_id: str = Field(..., max_length=64)
    reason: str = Field("", max_length=500)


async def _publish_and_rerun(request: Request, auth: Auth, group: inbox.Group, base: int, content: Content, index: SearchIndex,
                             model: bytes | None, reason: str, target: str, detail: str, **resolves: str) -> tuple[int, int, int]:
    """Publish content made from version `base` (audited), ask the group's questions again of it (`resolves`: the
    item_id or pinned_id they should now reach) and serve it in this process at once (the others within seconds):
    (version, resolved, asked)."""
    def publish(session: Session) -> tuple[int, int, int]:
        try:
            number = versions.publish_on(db_session=session, base=base, content=content, author=auth.operator.username,
                                         reason=reason, source="inbox", search_model=model)
        except versions.VersionError as exc:
            raise errors.Conflict(str(exc)) from None
        audit.audit(db_session=session, operator_id=auth.operator.id, action="knowledge", target=target,
                    detail=f"发布第 {number} 版：{reason}（{detail}）", ip=auth.ip)
        return (number, *inbox.rerun(db_session=session, g=group, index=index, number=number, **resolves))

    number, resolved, asked = await _session(request, publish)
    knowledge_service.serve(index, number, content.digest())
    return number, resolved, asked


async def _same_items_index(request: Request, content: Content, model: bytes | None) -> tuple[SearchIndex, bytes | None]:
    """The index of content whose items are the base version's: its fitted search model serves it as it is (fitted
    again only when it cannot be used)."""
    key_text = request.app.state.settings.secret_key.get_secret_value()
    loaded = await run_in_threadpool(fitted.load, content, model, key_text)
    if loaded is not None:
        return loaded, model
    index, fitted_model = await run_in_threadpool(fitted.fit_apart, content, key_text)
    return index, fitted_model


@router.post("/inbox/{key}/publish")
async def publish_group(request: Request, key: int, body: GroupFix, auth: Auth = Depends(admin_write)) -> dict[str, Any]:
    """Add the group's questions to an item as 常见问法 or 别名, publish that as a knowledge version (audited), then ask
    the questions again of it: those that now resolve to the item leave the inbox."""
    def prepare(session: Session) -> tuple[inbox.Group, int, Content, dict[str, Any], list[str]]:
        try:
            group = inbox.find_group(db_session=session, key=key)
            base = versions.latest_number(db_session=session)
            content, document, added = inbox.edited(versions.content_of(db_session=session, number=base), body.item_id,
                                                    body.action, inbox.usable_wordings(group))
        except (inbox.InboxError, versions.VersionError) as exc:
            raise errors.InvalidInput(str(exc)) from None
        assert base is not None  # content_of found that version
        return group, base, content, document, added

    group, base, content, document, added = await _session(request, prepare)
    index, model = await run_in_threadpool(fitted.fit_apart, content, request.app.state.settings.secret_key.get_secret_value())
    name, what = document["事项名称"], inbox.ACTIONS[body.action]
    reason = body.reason or f"待复核问题：为“{name}”增加{what}{len(added)}条"
    number, resolved, asked = await _publish_and_rerun(request, auth, group, base, content, index, model, reason, name,
                                                       "；".join(added), item_id=body.item_id)
    return {"version": number, "item": name, "added": added, "resolved": resolved, "asked": asked,
            "message": f"已发布第 {number} 版。重新提问 {asked} 条，其中 {resolved} 条现在能直接答到“{name}”，已移出待复核列表。"}


class GroupEvent(BaseModel):
    event_id: str = Field(..., min_length=1, max_length=64, description="一件事的编号")
    item_id: str = Field(..., min_length=1, max_length=64, description="作为这一步的事项（详细办事指南）")
    condition: str = Field("", max_length=200, description="办理这一步的条件（选填，至多 60 字）")
    reason: str = Field("", max_length=500)


@router.post("/inbox/{key}/event")
async def event_group(request: Request, key: int, body: GroupEvent, auth: Auth = Depends(admin_write)) -> dict[str, Any]:
    """Make an item a new step of a life event (一件事) and the group's questions the event's 常见问法, publish that as
    a knowledge version (audited), then ask the questions again of it: those now told the whole event leave the inbox."""
    def prepare(session: Session) -> tuple[inbox.Group, int, Content, dict[str, Any], bool, list[str], bytes | None]:
        try:
            group = inbox.find_group(db_session=session, key=key)
            base = versions.latest_number(db_session=session)
            content, event, step_added, added = inbox.event_step(
                versions.content_of(db_session=session, number=base), body.event_id, body.item_id, body.condition,
                inbox.usable_wordings(group))
        except (inbox.InboxError, versions.VersionError) as exc:
            raise errors.InvalidInput(str(exc)) from None
        assert base is not None  # content_of found that version
        return group, base, content, event, step_added, added, versions.search_model_of(db_session=session, number=base)

    group, base, content, event, step_added, added, model = await _session(request, prepare)
    index, model = await _same_items_index(request, content, model)
    step = content.items[body.item_id]["事项名称"]
    what = (f"增加第 {len(event['步骤'])} 步“{step}”" if step_added else f"“{step}”已是其中一步") + f"，常见问法{len(added)}条"
    reason = body.reason or f"待复核问题：一件事“{event['一件事']}”{what}"
    number, resolved, asked = await _publish_and_rerun(request, auth, group, base, content, index, model, reason,
                                                       f"一件事 {event['编号']}", "；".join(added), event_id=event["编号"])
    return {"version": number, "event": event["一件事"], "step_added": step_added, "steps": [s["事项"] for s in event["步骤"]],
            "added": added, "resolved": resolved, "asked": asked,
            "message": f"已发布第 {number} 版（一件事“{event['一件事']}”{what}）。重新提问 {asked} 条，"
                       f"其中 {resolved} 条现在直接答到这件事的全部步骤，已移出待复核列表。"}


class GroupPin(BaseModel):
    answer: str = Field(..., min_length=1, max_length=1000, description="工作人员写的答复（中文，至多 200 字）")
    item_id: str = Field("", max_length=64, description="相关事项（选填）")
    reason: str = Field("", max_length=500)


def _pinned_content(request: Request, key: int, body: GroupPin,
                    auth: Auth) -> Awaitable[tuple[inbox.Group, int, Content, dict[str, Any], bytes | None]]:
    def prepare(session: Session) -> tuple[inbox.Group, int, Content, dict[str, Any], bytes | None]:
        try:
            group = inbox.find_group(db_session=session, key=key)
            base = versions.latest_number(db_session=session)
            content, document = inbox.pinned(versions.content_of(db_session=session, number=base), group, body.answer,
                                             body.item_id or None, auth.operator.username, utcnow().astimezone(TZ).date())
        except (inbox.InboxError, versions.VersionError) as exc:
            raise errors.InvalidInput(str(exc)) from None
        assert base is not None  # content_of found that version
        return group, base, content, document, versions.search_model_of(db_session=session, number=base)

    return _session(request, prepare)


def _shown(content: Content, document: dict[str, Any]) -> str:
    item = content.items.get(document["事项"] or "")
    return pinned_reply(PinnedAnswer.of(document), item["事项名称"] if item else None, document["事项"]).text


@router.post("/inbox/{key}/pin/preview")
async def preview_pin(request: Request, key: int, body: GroupPin, auth: Auth = Depends(admin_write)) -> dict[str, Any]:
    """How the assistant would answer the group's questions with this pinned answer (nothing is published)."""
    _group, _base, content, document, _model = await _pinned_content(request, key, body, auth)
    return {"questions": document["问法"], "reply": _shown(content, document)}


@router.post("/inbox/{key}/pin")
async def pin_group(request: Request, key: int, body: GroupPin, auth: Auth = Depends(admin_write)) -> dict[str, Any]:
    """Publish staff's answer to the group's questions (人工干预) as a knowledge version (audited), then ask the
    questions again of it: those that now get the pinned answer leave the inbox."""
    group, base, content, document, model = await _pinned_content(request, key, body, auth)
    index, model = await _same_items_index(request, content, model)
    reason = body.reason or f"待复核问题：人工答复 {document['编号']}（{len(document['问法'])}条问法）"
    number, resolved, asked = await _publish_and_rerun(
        request, auth, group, base, content, index, model, reason, f"人工答复 {document['编号']}",
        f"问法：{'；'.join(document['问法'])}；答复：{document['答复']}", pinned_id=document["编号"])
    return {"version": number, "pinned": document["编号"], "questions": document["问法"], "reply": _shown(content, document),
            "resolved": resolved, "asked": asked,
            "message": f"已发布第 {number} 版（人工答复 {document['编号']}）。重新提问 {asked} 条，其中 {resolved} 条现在直接给出人工答复，已移出待复核列表。"}


class Dismiss(BaseModel):
    reason: str = Field(..., min_length=1, max_length=500)


@router.post("/inbox/{key}/dismiss")
async def dismiss_group(request: Request, key: int, body: Dismiss, auth: Auth = Depends(admin_write)) -> dict[str, Any]:
    """Set a group aside (not a knowledge gap: abuse, chit-chat, out of scope); audited with the reason."""
    def work(session: Session) -> dict[str, Any]:
        try:
            group = inbox.find_group(db_session=session, key=key)
        except inbox.InboxError as exc:
            raise errors.NotFound(str(exc)) from None
        count = inbox.dismiss(db_session=session, g=group)
        audit.audit(db_session=session, operator_id=auth.operator.id, action="knowledge", target=group.question[:100],
                    detail=f"待复核问题不予处理（{count}条）：{body.reason}", ip=auth.ip)
        return {"dismissed": count}

    return await _session(request, work)
