"""Duty hours as admins write them ("08:30-12:00,14:00-18:00"); nothing of the app imported, so settings can check them at start."""
from __future__ import annotations

import datetime as dt
import re

_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_duty_hours(value: str) -> list[tuple[dt.time, dt.time]]:
    """ "08:30-12:00,14:00-18:00" → spans; "24:00" ends a day; ValueError with the bad part."""
    spans = []
    for part in re.split(r"[,，;；\s]+", value.strip()):
        if not part:
            continue
        match = _SPAN.match(part)
        if not match:
            raise ValueError(f"值班时间“{part}”的格式不对，应为 08:30-12:00 这样的时段，多个时段用逗号分隔")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(f"值班时间“{part}”不是有效的时刻")
        start, end = dt.time(h1, m1), dt.time.max if h2 == 24 else dt.time(h2, m2)
        if end <= start:
            raise ValueError(f"值班时间“{part}”的结束时刻应晚于开始时刻")
        spans.append((start, end))
    return spans
