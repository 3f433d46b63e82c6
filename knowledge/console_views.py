"""The console's knowledge API for admins: check a guide as it is typed, preview the answers, publish the edit as a
new version, roll back. Views only translate HTTP; every publish and rollback is in the audit log and is a version
with who, when and why. The app's processes serve it within seconds (knowledge/service.py)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bot import errors
from bot.handoff import audit
from bot.handoff.auth import Auth, admin_write
from knowledge import editing, fitted, service, versions
from knowledge.content import Content
from knowledge.schema import Problem

T = TypeVar("T")

router = APIRouter(prefix="/console/api/admin/knowledge", tags=["console admin"])


class GuideForm(BaseModel):
    item_id: str = Field(..., max_length=64)
    base: int = Field(..., ge=1, le=2**31 - 1, description="the version the form was opened on")
    fields: dict[str, str] = Field(default_factory=dict, description="form text by the schema's Chinese field name")
    confirmed: list[str] = Field(default_factory=list, max_length=50, description="sample fields a person confirmed")
    question: str = Field("", max_length=200, description="a test question for the preview")
    reason: str = Field("", max_length=500)


def _session(request: Request, work: Callable[[Session], T]) -> T:
    with request.app.state.database.session() as session:
        return work(session)


async def _edited(request: Request, form: GuideForm) -> tuple[Content, dict[str, Any], list[Problem]]:
    """The base version's content, the edited document and its problems."""
    if sum(len(v) for v in form.fields.values()) > 200_000:
        raise errors.InvalidInput("表单内容过长。")

    def work(session: Session) -> tuple[Content, dict[str, Any], list[Problem]]:
        try:
            content = versions.content_of(db_session=session, number=form.base)
        except versions.VersionError as exc:
            raise errors.NotFound(str(exc)) from None
        if form.item_id not in content.items:
            raise errors.NotFound(f"第 {form.base} 版中没有编号为 {form.item_id} 的事项。")
        document, problems = editing.from_form(form.fields, content.items[form.item_id], form.confirmed)
        return content, document, problems

    return await run_in_threadpool(_session, request, work)


@router.post("/check")
async def check(request: Request, form: GuideForm, _auth: Auth = Depends(admin_write)) -> dict[str, Any]:
    """The form's problems, field by field (empty when it can be published)."""
    _content, _document, problems = await _edited(request, form)
    return {"problems": [{"field": p.field, "reason": p.reason} for p in problems]}


@router.post("/preview")
async def preview(request: Request, form: GuideForm, _auth: Auth = Depends(admin_write)) -> dict[str, Any]:
    """How the assistant would answer from the edited guide (nothing is published)."""
    _content, document, problems = await _edited(request, form)
    if problems:
        return {"problems": [{"field": p.field, "reason": p.reason} for p in problems], "answers": []}
    answers = editing.preview(form.item_id, document, form.question)
    return {"problems": [], "answers": [{"aspect": aspect, "text": text} for aspect, text in answers]}


@router.post("/publish")
async def publish(request: Request, form: GuideForm, auth: Auth = Depends(admin_write)) -> dict[str, Any]:
    """Publish the edited guide as a new version (refused while any problem remains or if another version came first)."""
    content, document, problems = await _edited(request, form)
    if problems:
        raise errors.InvalidInput("；".join(f"{p.field}：{p.reason}" for p in problems[:5]))
    if document == content.items[form.item_id]:
        raise errors.InvalidInput("没有修改，无需发布。")
    edited = content.with_items({**content.items, form.item_id: document})
    key = request.app.state.settings.secret_key.get_secret_value()
    index, model = await run_in_threadpool(fitted.fit_apart, edited, key)
    name = document["事项名称"]

    def work(session: Session) -> int:
        try:
            number = versions.publish_on(db_session=session, base=form.base, content=edited, author=auth.operator.username,
                                         reason=form.reason or f"修改“{name}”", source="edit", search_model=model)
        except versions.VersionError as exc:
            raise errors.Conflict(str(exc)) from None
        audit.audit(db_session=session, operator_id=auth.operator.id, action="knowledge", target=name,
                    detail=f"发布第 {number} 版：{form.reason or '修改办事指南'}", ip=auth.ip)
        return number

    number = await run_in_threadpool(_session, request, work)
    service.serve(index, number, edited.digest())  # this process at once; the others within seconds
    return {"version": number}


class Rollback(BaseModel):
    number: int = Field(..., ge=1, le=2**31 - 1)
    reason: str = Field("", max_length=500)


@router.post("/rollback")
async def rollback(request: Request, body: Rollback, auth: Auth = Depends(admin_write)) -> dict[str, Any]:
    def work(session: Session) -> int:
        try:
            number = versions.rollback(db_session=session, number=body.number, author=auth.operator.username, reason=body.reason)
        except versions.VersionError as exc:
            raise errors.NotFound(str(exc)) from None
        audit.audit(db_session=session, operator_id=auth.operator.id, action="knowledge", target=f"第 {body.number} 版",
                    detail=f"回退：重新发布为第 {number} 版。{body.reason}", ip=auth.ip)
        return number

    return {"version": await run_in_threadpool(_session, request, work)}
