"""The "5+X" schedule: halls, window groups, regular and extension slots, from schedule.yaml."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.booking.calendar import WorkCalendar
from bot.clock import TZ
from bot.errors import AppError

SCHEDULE_FILE = Path(__file__).resolve().parent / "schedule.yaml"
WEEKDAYS = "一二三四五六日"


class ScheduleError(ValueError):
    """The schedule file is wrong; the message names the field."""


class DateNotBookable(AppError):
    """A date or slot that cannot be booked; `reason` is said to the citizen as is."""

    status = 422
    code = "not_bookable"


@dataclass(frozen=True)
class Slot:
    group: str
    day: dt.date
    start: dt.time
    end: dt.time
    extension: bool  # a "+X" slot (lunch, evening, Saturday)

    @property
    def key(self) -> str:
        return f"{self.day.isoformat()} {self.start:%H:%M}"

    @property
    def label(self) -> str:
        """e.g. 11月28日（周六）09:00-09:30（“5+X”延时服务）"""
        text = f"{self.day.month}月{self.day.day}日（周{WEEKDAYS[self.day.weekday()]}）{self.start:%H:%M}-{self.end:%H:%M}"
        return text + ("（“5+X”延时服务）" if self.extension else "")


@dataclass(frozen=True)
class WindowGroup:
    id: str
    name: str
    items: tuple[str, ...]
    capacity: int
    slot_minutes: int
    regular: tuple[tuple[dt.time, dt.time], ...]
    extension_workday: tuple[tuple[dt.time, dt.time], ...]
    extension_saturday: tuple[tuple[dt.time, dt.time], ...]
    hall_name: str
    hall_address: str


def _ranges(values: list[object] | None, where: str) -> tuple[tuple[dt.time, dt.time], ...]:
    out = []
    for value in values or []:
        try:
            start, end = (dt.time.fromisoformat(part.strip()) for part in str(value).split("-"))
        except ValueError:
            raise ScheduleError(f"{where}: 时段 {value!r} 应写成 HH:MM-HH:MM") from None
        if start >= end:
            raise ScheduleError(f"{where}: 时段 {value!r} 开始时间应早于结束时间")
        out.append((start, end))
    return tuple(out)


class Schedule:
    def __init__(self, groups: list[WindowGroup], horizon_days: int, calendar: WorkCalendar):
        self.groups = {g.id: g for g in groups}
        self.horizon_days = horizon_days
        self.calendar = calendar
        self._by_item = {item: g for g in groups for item in g.items}

    @classmethod
    def load(cls, path: Path = SCHEDULE_FILE, calendar: WorkCalendar | None = None) -> Schedule:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        groups, horizon = [], 14
        for h, hall in enumerate(data.get("大厅") or []):
            horizon = int(hall.get("可提前预约天数", 14))
            for g, group in enumerate(hall.get("窗口组") or []):
                where = f"{path.name}: 大厅[{h + 1}].窗口组[{g + 1}]"
                try:
                    extension = group.get("延时") or {}
                    groups.append(WindowGroup(
                        id=group["编号"], name=group["名称"], items=tuple(group["事项"]),
                        capacity=int(group["每时段名额"]), slot_minutes=int(group["时段长度分钟"]),
                        regular=_ranges(group.get("工作日"), where + ".工作日"),
                        extension_workday=_ranges(extension.get("工作日"), where + ".延时.工作日"),
                        extension_saturday=_ranges(extension.get("周六"), where + ".延时.周六"),
                        hall_name=hall["名称"], hall_address=hall.get("地址", hall["名称"]),
                    ))
                except KeyError as exc:
                    raise ScheduleError(f"{where}: 缺少字段 {exc.args[0]}") from None
                if groups[-1].capacity < 1 or groups[-1].slot_minutes < 5:
                    raise ScheduleError(f"{where}: 每时段名额应 ≥1，时段长度应 ≥5 分钟")
        return cls(groups, horizon, calendar or WorkCalendar.load())

    def group_for(self, item_name: str) -> WindowGroup | None:
        return self._by_item.get(item_name)

    def _split(self, group: WindowGroup, day: dt.date, ranges: tuple[tuple[dt.time, dt.time], ...], extension: bool) -> list[Slot]:
        slots = []
        step = dt.timedelta(minutes=group.slot_minutes)
        for start, end in ranges:
            at = dt.datetime.combine(day, start)
            while at + step <= dt.datetime.combine(day, end):
                slots.append(Slot(group.id, day, at.time(), (at + step).time(), extension))
                at += step
        return slots

    def day_slots(self, group: WindowGroup, day: dt.date) -> list[Slot]:
        """All slots of a day (regular and "+X"); DateNotBookable on closed days, CalendarUnknown if unpublished."""
        if self.calendar.is_workday(day):
            return sorted(
                self._split(group, day, group.regular, False) + self._split(group, day, group.extension_workday, True),
                key=lambda s: s.start,
            )
        if self.calendar.is_saturday_off(day) and group.extension_saturday:
            return self._split(group, day, group.extension_saturday, True)
        if day.weekday() >= 5 and day not in self.calendar.holidays:
            raise DateNotBookable(f"{day.month}月{day.day}日是周{WEEKDAYS[day.weekday()]}，{group.hall_name}不办公")
        raise DateNotBookable(f"{day.month}月{day.day}日是法定节假日，{group.hall_name}不办公")

    @staticmethod
    def earliest(now: dt.datetime) -> dt.datetime:
        """The start of the next half-day: the current half-day cannot be booked."""
        now = now.astimezone(TZ)
        if now.hour < 12:
            return now.replace(hour=12, minute=0, second=0, microsecond=0)
        return (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)

    def bookable_slots(self, group: WindowGroup, day: dt.date, now: dt.datetime) -> list[Slot]:
        """Slots of the day that may still be booked at `now` (capacity not considered)."""
        today = now.astimezone(TZ).date()
        if day < today:
            raise DateNotBookable(f"{day.month}月{day.day}日已经过去了，请选择今天以后的日期")
        if day > today + dt.timedelta(days=self.horizon_days):
            raise DateNotBookable(f"最多只能提前{self.horizon_days}天预约，{day.month}月{day.day}日还不能约")
        earliest = self.earliest(now).replace(tzinfo=None)
        slots = [s for s in self.day_slots(group, day) if dt.datetime.combine(day, s.start) >= earliest]
        if not slots:
            raise DateNotBookable(f"{day.month}月{day.day}日剩下的时段已经不能预约了（不能预约当前半天）")
        return slots
