"""Working days: Chinese statutory holidays and make-up working days (调休) from chinesecalendar,
plus a local override file for years the package does not cover (it stops at 2026)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import chinese_calendar
import yaml

from bot.errors import AppError

OVERRIDE_FILE = Path(__file__).resolve().parent / "holidays.yaml"


class CalendarUnknown(AppError):
    """The holiday arrangement of this date's year is not known yet; never guess."""

    status = 422

    def __init__(self, day: dt.date):
        self.day = day
        super().__init__(f"{day.year}年的放假安排尚未公布，暂时不能预约{day.month}月{day.day}日", code="calendar_unknown")


@dataclass
class WorkCalendar:
    covered_years: set[int] = field(default_factory=set)
    holidays: set[dt.date] = field(default_factory=set)
    workdays: set[dt.date] = field(default_factory=set)

    @classmethod
    def load(cls, path: Path = OVERRIDE_FILE) -> WorkCalendar:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
        data = data or {}
        return cls(set(data.get("已覆盖年份") or []), set(data.get("放假") or []), set(data.get("调休上班") or []))

    def is_workday(self, day: dt.date) -> bool:
        """True on working days (incl. 调休 weekends); CalendarUnknown when the year is not published."""
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        if day.year in self.covered_years:
            return day.weekday() < 5
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            raise CalendarUnknown(day) from None

    def is_saturday_off(self, day: dt.date) -> bool:
        """A Saturday that is not a working day and not a holiday: the "+X" Saturday service day."""
        if day.weekday() != 5 or self.is_workday(day) or day in self.holidays:
            return False
        if day.year in self.covered_years:
            return True
        return chinese_calendar.get_holiday_detail(day)[1] is None  # a plain weekend, not a festival
