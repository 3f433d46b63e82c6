"""Duty hours, presence and the console settings admins change (duty hours and days, sensitive words).
Plain functions over a db_session."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.booking.calendar import CalendarUnknown, WorkCalendar
from bot.clock import TZ, as_utc
from bot.handoff.hours import parse_duty_hours
from bot.handoff.models import (
    ConsoleSetting,
    Operator,
)

if TYPE_CHECKING:
    from bot.settings import Settings


def split_words(value: str | list[str]) -> list[str]:
    """Sensitive words from "a,b" or one per line; blanks and repeats dropped."""
    parts = value if isinstance(value, list) else re.split(r"[,，、;\n\r]+", value or "")
    words: list[str] = []
    for part in parts:
        part = str(part).strip()
        if part and part not in words:
            words.append(part)
    return words


@dataclass
class DutyConfig:
    hours: str
    days: str  # "workdays" | "every_day"
    sensitive_words: list[str]

    @property
    def spans(self) -> list[tuple[dt.time, dt.time]]:
        return parse_duty_hours(self.hours)


def duty_config(*, db_session: Session, settings: Settings) -> DutyConfig:
    """Env defaults, overridden by what an admin saved in the console."""
    saved: dict[str, Any] = {row.key: row.value for row in db_session.scalars(select(ConsoleSetting))}
    return DutyConfig(
        hours=saved.get("duty_hours", settings.handoff_duty_hours),
        days=saved.get("duty_days", settings.handoff_duty_days),
        sensitive_words=split_words(saved.get("sensitive_words", settings.handoff_sensitive_words)),
    )


def save_duty_config(*, db_session: Session, hours: str, days: str, sensitive_words: list[str]) -> DutyConfig:
    parse_duty_hours(hours)  # raises ValueError naming the bad span
    if days not in ("workdays", "every_day"):
        raise ValueError("值班日只能是“工作日”或“每天”")
    for key, value in (("duty_hours", hours.strip()), ("duty_days", days), ("sensitive_words", split_words(sensitive_words))):
        row = db_session.get(ConsoleSetting, key)
        if row is None:
            db_session.add(ConsoleSetting(key=key, value=value))
        else:
            row.value = value
    db_session.flush()
    return DutyConfig(hours.strip(), days, split_words(sensitive_words))


def in_duty_hours(config: DutyConfig, now: dt.datetime, calendar: WorkCalendar) -> bool:
    """Within the duty spans on a duty day (working days come from the booking calendar, 调休 included)."""
    local = now.astimezone(TZ)
    if config.days == "workdays":
        try:
            workday = calendar.is_workday(local.date())
        except CalendarUnknown:
            workday = local.weekday() < 5  # the year's holidays are not published yet: Monday to Friday
        if not workday:
            return False
    clock = local.time()
    return any(start <= clock <= end for start, end in config.spans)


def duty_description(config: DutyConfig) -> str:
    """ "工作日 08:30-12:00、14:00-18:00" for citizens."""
    spans = "、".join(f"{s.strftime('%H:%M')}-{'24:00' if e == dt.time.max else e.strftime('%H:%M')}" for s, e in config.spans)
    return ("工作日" if config.days == "workdays" else "每天") + " " + (spans or "（暂未安排）")


def touch_presence(*, db_session: Session, operator_id: int, now: dt.datetime) -> None:
    now = as_utc(now)
    db_session.execute(update(Operator).where(Operator.id == operator_id).values(last_seen_at=now))


def operators_online(*, db_session: Session, now: dt.datetime, presence_seconds: float) -> int:
    """Active accounts with the console open recently (it polls every few seconds)."""
    now = as_utc(now)
    since = now - dt.timedelta(seconds=presence_seconds)
    return db_session.scalar(
        select(func.count()).select_from(Operator).where(Operator.active.is_(True), Operator.last_seen_at >= since)
    ) or 0


_settings = ConsoleSetting.__table__
_SENSITIVE_WORDS = select(_settings.c.value).where(_settings.c.key == "sensitive_words")


def sensitive_words(*, db_session: Session, settings: Settings) -> list[str]:
    """duty_config(...).sensitive_words, read alone."""
    saved = db_session.execute(_SENSITIVE_WORDS).scalar()
    return split_words(saved if saved is not None else settings.handoff_sensitive_words)
