"""Admin routes for a citizen's request about their personal data (个人信息查阅、删除): export and erase, audited.
Console admins only, with the console's CSRF token; the reason is kept in the audit log."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bot.handoff.auth import Auth, admin_write
from bot.personal_data import service
from bot.personal_data.retention import TrackerEraser

T = TypeVar("T")
router = APIRouter(prefix="/console/api/admin/personal-data", tags=["console admin"])


class CitizenRequest(BaseModel):
    phone: str = Field("", max_length=20, pattern=r"^(1[3-9]\d{9})?$", description="手机号")
    conversation_id: str = Field("", max_length=64, description="会话编号")
    wechat_openid: str = Field("", max_length=64, description="微信 OpenID")
    reason: str = Field(..., min_length=2, max_length=500, description="申请依据，例如“本人来电申请，工单 GD…”")

    def citizen(self) -> service.Citizen:
        return service.Citizen(phone=self.phone, conversation_id=self.conversation_id, wechat_openid=self.wechat_openid)


def _in_session(request: Request, work: Callable[[Session], T]) -> T:
    with request.app.state.database.session() as session:
        return work(session)


@router.post("/export")
async def export(request: Request, body: CitizenRequest, auth: Auth = Depends(admin_write)) -> dict[str, Any]:
    """Everything stored about the citizen (conversations, bookings, work orders), unmasked: it is for them."""
    return await run_in_threadpool(_in_session, request, lambda session: service.export(
        db_session=session, citizen=body.citizen(), operator_id=auth.operator.id, ip=auth.ip, reason=body.reason))


@router.post("/erase")
async def erase(request: Request, body: CitizenRequest, auth: Auth = Depends(admin_write)) -> dict[str, Any]:
    """Erase the citizen's personal data now (Rasa's copy of the conversations too)."""
    erased = await run_in_threadpool(_in_session, request, lambda session: service.erase(
        db_session=session, citizen=body.citizen(), operator_id=auth.operator.id, ip=auth.ip, reason=body.reason))
    settings = request.app.state.settings
    trackers = TrackerEraser(request.app.state.rasa, settings.tracker_database_url.get_secret_value())
    try:
        await trackers.erase(erased.tracker_senders)
    finally:
        trackers.close()
    return {"conversations": erased.conversations, "messages": erased.messages, "bookings": erased.bookings,
            "work_orders": erased.work_orders, "summary": erased.summary()}
