"""Where an appeal goes and by when: the taxonomy (taxonomy.csv), the county's departments and routes, deadlines in
working days per appeal type on the holiday calendar, and the words that make an appeal urgent (routing.yaml,
which admins edit; `python -m bot appeals check` validates it)."""
from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.booking.calendar import WorkCalendar
from bot.clock import TZ, as_utc
from bot.errors import InvalidInput

HERE = Path(__file__).resolve().parent
TAXONOMY_FILE = HERE / "taxonomy.csv"
ROUTING_FILE = HERE / "routing.yaml"
APPEAL_TYPES = ("投诉", "求助", "举报", "建议", "咨询")
END_OF_DAY = dt.time(17, 30)  # a deadline falls at the close of its working day


def load_taxonomy(path: Path = TAXONOMY_FILE) -> dict[str, list[str]]:
    """First-level class -> its second-level classes, in the file's order."""
    taxonomy: dict[str, list[str]] = {}
    with path.open(encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            second = taxonomy.setdefault(row["一级分类"], [])
            if row["二级分类"] not in second:
                second.append(row["二级分类"])
    return taxonomy


@dataclass
class Routing:
    taxonomy: dict[str, list[str]]
    departments: dict[str, str]  # code -> name
    routes: dict[str, dict[str, str]]  # category1 -> {"default": code, category2: code}
    deadlines: dict[str, int]
    urgent_words: list[str]
    calendar: WorkCalendar = field(default_factory=WorkCalendar.load)

    @classmethod
    def load(cls, path: Path = ROUTING_FILE, taxonomy: Path = TAXONOMY_FILE) -> Routing:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        routing = cls(load_taxonomy(taxonomy), dict(data.get("departments") or {}), dict(data.get("routes") or {}),
                      {str(k): int(v) for k, v in (data.get("deadlines") or {}).items()}, list(data.get("urgent") or []))
        problems = routing.problems()
        if problems:
            raise InvalidInput(f"{path.name} 有误：" + "；".join(problems))
        return routing

    def problems(self) -> list[str]:
        """What is wrong with the file, in Chinese (empty when it can be used)."""
        found = []
        for first, seconds in self.taxonomy.items():
            route = self.routes.get(first)
            if not route or not route.get("default"):
                found.append(f"一级分类“{first}”没有默认承办部门")
                continue
            for second, code in route.items():
                if second != "default" and second not in seconds:
                    found.append(f"“{first}”下没有二级分类“{second}”")
                if code not in self.departments:
                    found.append(f"“{first}/{second}”的承办部门代码 {code} 不在 departments 里")
        found += [f"分类表里没有一级分类“{first}”" for first in self.routes if first not in self.taxonomy]
        found += [f"deadlines 缺少“{kind}”" for kind in (*APPEAL_TYPES, "urgent") if kind not in self.deadlines]
        return found

    def department_for(self, category1: str, category2: str | None = None) -> str:
        route = self.routes[category1]
        return route.get(category2 or "", route["default"])

    def department_name(self, code: str | None) -> str:
        return self.departments.get(code or "", code or "")

    def is_urgent(self, text: str) -> bool:
        return any(word in text for word in self.urgent_words)

    def due_at(self, filed_at: dt.datetime, appeal_type: str, urgent: bool, extra_days: int = 0) -> dt.datetime:
        """The close of the N-th working day after filing (N per appeal type, 1 when urgent), plus granted days."""
        days = self.deadlines["urgent" if urgent else appeal_type if appeal_type in self.deadlines else "投诉"] + extra_days
        return self.add_working_days(filed_at, days)

    def add_working_days(self, start: dt.datetime, days: int) -> dt.datetime:
        day = as_utc(start).astimezone(TZ).date()
        while days > 0:
            day += dt.timedelta(days=1)
            if self.calendar.is_workday(day):
                days -= 1
        return dt.datetime.combine(day, END_OF_DAY, tzinfo=TZ)

    def working_days_left(self, now: dt.datetime, due: dt.datetime) -> int:
        """Working days from today to the due day (0 on the due day, negative once past)."""
        today, last = as_utc(now).astimezone(TZ).date(), as_utc(due).astimezone(TZ).date()
        step, count, day = (1, 0, today) if last >= today else (-1, 0, today)
        while day != last:
            day += dt.timedelta(days=step)
            if self.calendar.is_workday(day):
                count += step
        return count
