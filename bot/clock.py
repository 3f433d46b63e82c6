"""Time in one place: the county's time zone and the UTC helpers every stored time goes through."""
from __future__ import annotations

import datetime as dt
import os
from typing import overload
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")  # the county's time: opening hours, slots, duty hours


def _offset(start: str | None) -> dt.timedelta:
    """CLOCK_START (an ISO time, county time when it has no offset) makes the clock start there and run on:
    `make eval` fixes "today" so that "下周一" or "后天下午" mean the same slots whenever it runs. Refused in
    production (bot/keys.py)."""
    if not start:
        return dt.timedelta(0)
    fixed = dt.datetime.fromisoformat(start)
    fixed = fixed if fixed.tzinfo else fixed.replace(tzinfo=TZ)
    return fixed - dt.datetime.now(dt.timezone.utc)


OFFSET = _offset(os.environ.get("CLOCK_START"))


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) + OFFSET


def now() -> dt.datetime:
    """The county's local time now."""
    return utcnow().astimezone(TZ)


def as_utc(value: dt.datetime) -> dt.datetime:
    """Times are stored in UTC (SQLite keeps no offset): convert any aware time before it reaches the database."""
    return value.astimezone(dt.timezone.utc) if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


@overload
def aware(value: dt.datetime) -> dt.datetime: ...
@overload
def aware(value: None) -> None: ...
@overload
def aware(value: dt.datetime | None) -> dt.datetime | None: ...


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes: they are UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value
