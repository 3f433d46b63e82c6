"""Whether a booked citizen came: the hall's staff mark each booking 已到场 or 未到场 (a no-show), from the console's
预约到场 page (one day's bookings, personal data masked) or the API; marking again changes it, and every mark is in the
audit log (action `booking`). The dashboard counts no-shows from these marks (bot/insight/dashboard.py)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import errors
from bot.booking.models import Booking
from bot.clock import TZ, utcnow
from bot.handoff import audit
from bot.insight.models import ATTENDANCE, BookingAttendance
from bot.privacy import mask

AUDIT_ACTION = "booking"


def day_bookings(*, db_session: Session, day: dt.date) -> list[dict[str, Any]]:
    """A day's bookings in time order with their attendance, names and phones masked."""
    rows = db_session.execute(select(Booking, BookingAttendance.status)
                              .outerjoin(BookingAttendance, BookingAttendance.booking_id == Booking.id)
                              .where(Booking.day == day).order_by(Booking.start, Booking.id))
    today = utcnow().astimezone(TZ).date()
    return [{"code": b.code, "item": b.item_name, "start": b.start, "end": b.end, "name": mask("我叫" + b.name)[2:],
             "phone": mask(b.phone), "cancelled": b.status == "cancelled", "attendance": status,
             "label": ATTENDANCE.get(status, "未登记"), "markable": b.status != "cancelled" and b.day <= today}
            for b, status in rows]


def mark(*, db_session: Session, code: str, status: str, operator_id: int, ip: str) -> dict[str, Any]:
    """Mark a booking attended or a no-show (audited); refused for a cancelled booking or one still to come."""
    booking = db_session.scalar(select(Booking).where(Booking.code == code.upper()))
    if booking is None:
        raise errors.NotFound("没有这个预约码。")
    if booking.status == "cancelled":
        raise errors.InvalidInput("这个预约已取消，不能登记到场情况。")
    if booking.day > utcnow().astimezone(TZ).date():
        raise errors.InvalidInput("预约的日子还没到，不能登记到场情况。")
    row = db_session.get(BookingAttendance, booking.id)
    if row is None:
        row = BookingAttendance(booking_id=booking.id)
        db_session.add(row)
    row.status, row.operator_id, row.marked_at = status, operator_id, utcnow()
    audit.audit(db_session=db_session, operator_id=operator_id, action=AUDIT_ACTION, target=booking.code,
                detail=f"{booking.day.isoformat()} {booking.start} {booking.item_name}：{ATTENDANCE[status]}", ip=ip)
    return {"code": booking.code, "status": status, "label": ATTENDANCE[status]}
