"""The console's insight pages for admins: the dashboard (charts drawn in the page by Chart.js, served from the app
itself: the county's network has no CDN) and the review inbox, and a day's bookings to mark attended or no-show. Figures come from bot/insight; changes go through its
JSON API (bot/insight/views.py) from static/console/insight.js with the session's CSRF token."""
from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from bot import errors
from bot.clock import TZ, utcnow
from bot.insight import attendance, dashboard, inbox
from bot.insight.views import date_range
from channels.console import STATIC, base_context, in_session, page, signed_in

router = APIRouter(include_in_schema=False)
# Chart.js 4.5.1 (MIT, chart.js-LICENSE.md beside it), the UMD build as published on the npm registry
VENDOR = STATIC / "vendor"
VENDOR_FILES = {"chart.umd.min.js": "text/javascript", "chart.js-LICENSE.md": "text/markdown; charset=utf-8"}
STATIC_FILES = {"insight.js": "text/javascript", "insight.css": "text/css"}


def _day(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.get("/console/admin/dashboard")
async def dashboard_page(request: Request, start: str = "", end: str = "") -> Response:
    """Contacts, containment, handoffs and waits, ratings, top items and aspects, 5+X bookings, for a date range."""
    who = await signed_in(request, admin=True)
    if isinstance(who, Response):
        return who
    try:
        first, last = date_range(_day(start), _day(end))
    except errors.AppError as exc:
        return page(request, "error.html", {**base_context(who, "dashboard"), "title": "日期范围有误", "message": str(exc)},
                    status=422)
    schedule = request.app.state.services.schedule
    data = await in_session(request, lambda s: dashboard.figures(db_session=s, start=first, end=last, schedule=schedule,
                                                                     routing=request.app.state.services.appeals.routing))
    return page(request, "admin_dashboard.html", {**base_context(who, "dashboard"), "data": data,
                                                  "series": dashboard.by_channel_label(data["contacts"]["per_day"], data["channels"])})


@router.get("/console/admin/inbox")
async def inbox_page(request: Request) -> Response:
    """Questions the assistant missed, grouped by similarity, each with what can be done about it."""
    who = await signed_in(request, admin=True)
    if isinstance(who, Response):
        return who
    groups, items, events = await in_session(request, lambda s: (inbox.groups(db_session=s), inbox.item_choices(db_session=s),
                                                                 inbox.event_choices(db_session=s)))
    return page(request, "admin_inbox.html", {**base_context(who, "inbox"), "groups": groups, "items": items,
                                              "events": events, "reasons": inbox.REASONS})


@router.get("/console/admin/bookings")
async def bookings_page(request: Request, date: str = "") -> Response:
    """A day's "5+X" bookings (names and phones masked), each marked 已到场 or 未到场 by the hall's staff."""
    who = await signed_in(request, admin=True)
    if isinstance(who, Response):
        return who
    day = _day(date) or utcnow().astimezone(TZ).date()
    rows = await in_session(request, lambda s: attendance.day_bookings(db_session=s, day=day))
    return page(request, "admin_bookings.html", {**base_context(who, "bookings"), "day": day, "rows": rows,
                                                 "previous": day - dt.timedelta(days=1), "next": day + dt.timedelta(days=1)})


@router.get("/static/console/insight/{name}")
async def asset(name: str) -> Response:
    if name in STATIC_FILES:
        return FileResponse(STATIC / name, media_type=STATIC_FILES[name], headers={"Cache-Control": "no-cache"})
    if name in VENDOR_FILES:
        return FileResponse(VENDOR / name, media_type=VENDOR_FILES[name], headers={"Cache-Control": "max-age=86400"})
    return JSONResponse({"error": "没有这个文件"}, status_code=404)
