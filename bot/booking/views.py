"""Appointments JSON API for the website and the console; views only translate HTTP."""
from __future__ import annotations

import csv
import datetime as dt
import io
import secrets
from contextlib import AbstractContextManager
from typing import Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bot import clock
from bot.booking import service
from bot.booking.models import Booking
from bot.privacy import mask
from knowledge.service import get_index

router = APIRouter(prefix="/api/appointments", tags=["appointments"])


class BookingRequest(BaseModel):
    item: str = Field(..., max_length=200, description="事项名称")
    date: dt.date
    start: str = Field(..., pattern=r"^\d{2}:\d{2}$", description="时段开始时间 HH:MM")
    name: str = Field(..., max_length=64)
    phone: str = Field(..., max_length=32)
    id_number: str | None = Field(None, max_length=32)
    request_id: str | None = Field(None, max_length=64, description="幂等键：重复提交同一个值只预约一次")


class PhoneRequest(BaseModel):
    phone: str = Field(..., max_length=32)


class RescheduleRequest(BaseModel):
    phone: str = Field(..., max_length=32)
    date: dt.date
    start: str = Field(..., pattern=r"^\d{2}:\d{2}$")


def public(booking: Booking, reveal: bool = False) -> dict[str, Any]:
    return {
        "code": booking.code, "item": booking.item_name, "date": booking.day.isoformat(), "start": booking.start,
        "end": booking.end, "status": booking.status, "name": booking.name if reveal else mask("我叫" + booking.name)[2:],
        "phone": booking.phone if reveal else mask(booking.phone),
    }


def _session(request: Request) -> AbstractContextManager[Session]:
    sessions: AbstractContextManager[Session] = request.app.state.database.session()
    return sessions


def id_required(item_name: str) -> bool:
    entry = get_index().kb.by_name(item_name)
    return bool(entry and entry.get("预约需身份证号"))


@router.get("/slots")
async def slots(request: Request, item: str = Query(..., description="事项名称"), date: dt.date = Query(...)) -> list[dict[str, Any]]:
    """Free slots of one day for an item, with seats left."""
    def run() -> list[dict[str, Any]]:
        with _session(request) as session:
            found = service.free_slots(db_session=session, schedule=request.app.state.schedule, item_name=item, day=date,
                                       now=clock.now())
            return [{"start": f"{s.start:%H:%M}", "end": f"{s.end:%H:%M}", "extension": s.extension, "seats_left": left,
                     "label": s.label} for s, left in found]
    return await run_in_threadpool(run)


@router.post("", status_code=201)
async def create(request: Request, body: BookingRequest) -> dict[str, Any]:
    """Book a slot; the reply has the booking code."""
    def run() -> dict[str, Any]:
        with _session(request) as session:
            booking = service.book(db_session=session, schedule=request.app.state.schedule, item_name=body.item, day=body.date,
                                   start=body.start, name=body.name, phone=body.phone, id_number=body.id_number,
                                   id_required=id_required(body.item), channel="api", request_id=body.request_id)
            return public(booking)
    return await run_in_threadpool(run)


@router.get("/{code}")
async def get(request: Request, code: str, phone: str = Query(...)) -> dict[str, Any]:
    """Look a booking up by code and the mobile number it was made with."""
    def run() -> dict[str, Any]:
        with _session(request) as session:
            return public(service.lookup(db_session=session, code=code, phone=phone))
    return await run_in_threadpool(run)


@router.post("/{code}/cancel")
async def cancel(request: Request, code: str, body: PhoneRequest) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with _session(request) as session:
            return public(service.cancel(db_session=session, code=code, phone=body.phone))
    return await run_in_threadpool(run)


@router.post("/{code}/reschedule")
async def reschedule(request: Request, code: str, body: RescheduleRequest) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with _session(request) as session:
            return public(service.reschedule(db_session=session, schedule=request.app.state.schedule, code=code,
                                             phone=body.phone, day=body.date, start=body.start))
    return await run_in_threadpool(run)


def require_admin(request: Request, authorization: str = Header("", description="Bearer <ADMIN_TOKEN>")) -> None:
    """Admin listing needs the admin token (until console accounts land)."""
    token = request.app.state.settings.admin_token.get_secret_value()
    given = authorization.removeprefix("Bearer ").strip()
    if not token or not secrets.compare_digest(given, token):
        raise HTTPException(401, "需要管理员令牌（请求头 Authorization: Bearer <ADMIN_TOKEN>）")


admin_router = APIRouter(prefix="/api/admin/appointments", tags=["admin"], dependencies=[Depends(require_admin)])


@admin_router.get("")
async def day_listing(request: Request, date: dt.date = Query(...), format: str = Query("json", pattern="^(json|csv)$")) -> Response:
    """A day's bookings; `format=csv` downloads them (personal data masked)."""
    def run() -> list[dict[str, Any]]:
        with _session(request) as session:
            return [public(b) for b in service.day_bookings(db_session=session, day=date)]
    rows = await run_in_threadpool(run)
    if format == "json":
        return JSONResponse(rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["code", "item", "date", "start", "end", "status", "name", "phone"])
    writer.writeheader()
    writer.writerows(rows)
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="bookings-{date.isoformat()}.csv"'})
