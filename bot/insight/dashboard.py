"""The dashboard's figures for a date range (county days, Asia/Shanghai), and the same figures as an XLSX workbook.

A contact (接入) is one conversation on one day with at least one citizen message. It is contained (机器人独立解决)
when none of that day's turns was handed over to a person or went to an operator. Waits are from a handoff's
request to an operator taking it. Bookings count by their appointment day; a no-show is a booking the hall marked
未到场 (bot/insight/models.py: BookingAttendance); past bookings nobody marked are counted apart.
"""
from __future__ import annotations

import datetime as dt
import io
import statistics
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.booking.models import Booking
from bot.booking.schedule import Schedule
from bot.clock import TZ, aware, utcnow
from bot.handoff.models import RATING_LEVELS, Handoff, Rating, WorkOrder
from bot.insight.models import ATTENDANCE, OUTCOMES, BookingAttendance, TurnOutcome
from bot.privacy import mask
from knowledge.answers import ASPECT_TITLES

if TYPE_CHECKING:
    from bot.appeals.routing import Routing

CHANNELS = {"webchat": "网页", "web": "接口", "wechat": "微信", "voice": "电话"}
ASPECTS = {"item": "概况", **ASPECT_TITLES, "pinned": "人工答复"}
PERSON = ("handed_over", "operator")
SLOT_TYPES = {"regular": "工作日正常时段", "workday_extension": "工作日延时（午间、傍晚）", "weekend": "周末延时"}
TOP = 10
MAX_DAYS = 366


def span(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """UTC bounds of county days start..end (both included)."""
    low = dt.datetime.combine(start, dt.time(), TZ)
    high = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), TZ)
    return low.astimezone(dt.timezone.utc), high.astimezone(dt.timezone.utc)


def local_day(value: dt.datetime) -> dt.date:
    return aware(value).astimezone(TZ).date()


def slot_type(schedule: Schedule | None, booking: Booking) -> str:
    """regular, workday_extension (lunch, evening) or weekend, from the schedule's ranges."""
    if booking.day.weekday() >= 5:
        return "weekend"
    group = schedule.groups.get(booking.group_id) if schedule else None
    start = dt.time.fromisoformat(booking.start)
    if group is not None and any(low <= start < high for low, high in group.extension_workday):
        return "workday_extension"
    return "regular"


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def appeal_figures(db_session: Session, low: dt.datetime, high: dt.datetime, routing: Routing | None) -> dict[str, Any]:
    """Appeals filed in the range: by first-level class and department, how many are open, overdue or answered on
    time, and the hot issues (groups of similar appeals, bot/appeals/service.py)."""
    from bot.appeals.service import OPEN, hot_issues

    orders = db_session.scalars(select(WorkOrder).where(WorkOrder.category == "appeal", WorkOrder.created_at >= low,
                                                        WorkOrder.created_at < high)).all()
    now = utcnow()
    answered = [o for o in orders if o.replied_at is not None]
    on_time = [o for o in answered if o.due_at is None or (o.replied_at is not None and aware(o.replied_at) <= aware(o.due_at))]
    overdue = [o for o in orders if o.status in ("dispatched", "accepted") and o.due_at and aware(o.due_at) < now]
    groups = hot_issues(db_session=db_session, now=high, routing=routing, days=max(1, (high - low).days)) if routing else []
    return {"total": len(orders), "by_category1": Counter(o.category1 or "未分类" for o in orders).most_common(),
            "by_department": Counter(routing.department_name(o.department) if routing else o.department or ""
                                     for o in orders).most_common(TOP),
            "open": sum(o.status in OPEN for o in orders), "overdue": len(overdue), "answered": len(answered),
            "on_time_rate": _share(len(on_time), len(answered)), "urgent": sum(o.urgent for o in orders),
            "hot": [{**g, "summary": mask(g["summary"]), "places": [mask(p) for p in g["places"]]} for g in groups[:TOP]]}


def figures(*, db_session: Session, start: dt.date, end: dt.date, schedule: Schedule | None = None,
            routing: Routing | None = None) -> dict[str, Any]:
    """Every figure of the dashboard for county days start..end (appeals' departments and hot issues need the
    appeals' routing)."""
    low, high = span(start, end)
    days = [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]
    turns = db_session.execute(select(TurnOutcome.conversation_id, TurnOutcome.channel, TurnOutcome.outcome, TurnOutcome.item_name,
                                      TurnOutcome.aspect, TurnOutcome.created_at)
                               .where(TurnOutcome.created_at >= low, TurnOutcome.created_at < high)).all()
    contacts: dict[tuple[str, dt.date], dict[str, Any]] = {}
    outcome_counts: Counter[str] = Counter()
    items: Counter[str] = Counter()
    aspects: Counter[str] = Counter()
    for conversation_id, channel, outcome, item_name, aspect, created_at in turns:
        key = (conversation_id, local_day(created_at))
        contact = contacts.setdefault(key, {"channel": channel, "person": False})
        contact["person"] = contact["person"] or outcome in PERSON
        outcome_counts[outcome] += 1
        if outcome == "answered" and item_name:
            items[item_name] += 1
            aspects[aspect or "item"] += 1
    channels = sorted({c["channel"] for c in contacts.values()}, key=lambda c: list(CHANNELS).index(c) if c in CHANNELS else 99)
    per_day = {day.isoformat(): dict.fromkeys(channels, 0) for day in days}
    for (_, day), contact in contacts.items():
        per_day[day.isoformat()][contact["channel"]] += 1
    total = len(contacts)
    handed = sum(1 for c in contacts.values() if c["person"])

    handoffs = db_session.scalars(select(Handoff).where(Handoff.created_at >= low, Handoff.created_at < high)).all()
    waits = [(aware(h.taken_at) - aware(h.created_at)).total_seconds() for h in handoffs if h.taken_at is not None]
    ratings = db_session.scalars(select(Rating).where(Rating.created_at >= low, Rating.created_at < high).order_by(Rating.id)).all()
    level_counts = {level: 0 for level in RATING_LEVELS}
    for rating in ratings:
        level_counts[rating.level] = level_counts.get(rating.level, 0) + 1
    comments = [{"at": aware(r.created_at).astimezone(TZ).strftime("%Y-%m-%d %H:%M"), "level": r.level,
                 "channel": CHANNELS.get(r.channel, r.channel), "comment": mask(r.comment)} for r in ratings if r.comment][-50:]

    bookings = db_session.execute(select(Booking, BookingAttendance.status).outerjoin(BookingAttendance, BookingAttendance.booking_id == Booking.id)
                                  .where(Booking.day >= start, Booking.day <= end)).all()
    today = dt.datetime.now(TZ).date()
    slot_rows: dict[str, dict[str, Any]] = {kind: {"booked": 0, "cancelled": 0, "attended": 0, "no_show": 0, "unmarked": 0} for kind in SLOT_TYPES}
    for booking, attendance in bookings:
        row = slot_rows[slot_type(schedule, booking)]
        if booking.status == "cancelled":
            row["cancelled"] += 1
            continue
        row["booked"] += 1
        if attendance in ATTENDANCE:
            row[attendance] += 1
        elif booking.day < today:
            row["unmarked"] += 1
    for row in slot_rows.values():
        marked = row["attended"] + row["no_show"]
        row["no_show_rate"] = _share(row["no_show"], marked)

    return {
        "start": start.isoformat(), "end": end.isoformat(), "days": [d.isoformat() for d in days],
        "channels": {c: CHANNELS.get(c, c) for c in channels},
        "contacts": {"total": total, "per_day": per_day,
                     "by_channel": {c: sum(per_day[d][c] for d in per_day) for c in channels}},
        "turns": {"total": len(turns), "by_outcome": {k: outcome_counts.get(k, 0) for k in OUTCOMES}, "labels": OUTCOMES,
                  "order": list(OUTCOMES)},
        "containment_rate": _share(total - handed, total),
        "handoff_rate": _share(handed, total),
        "handoffs": {"total": len(handoffs), "taken": len(waits),
                     "abandoned": sum(1 for h in handoffs if h.status == "abandoned"),
                     "wait_mean_seconds": round(statistics.fmean(waits), 1) if waits else None,
                     "wait_median_seconds": round(statistics.median(waits), 1) if waits else None,
                     "wait_max_seconds": round(max(waits), 1) if waits else None},
        "ratings": {"total": len(ratings), "by_level": level_counts, "levels": list(level_counts),
                    "satisfied_rate": _share(sum(1 for r in ratings if r.score >= 3), len(ratings)), "comments": comments},
        "top_items": items.most_common(TOP),
        "aspects": [(ASPECTS.get(a, a), n) for a, n in aspects.most_common()],
        "bookings": {"slot_types": SLOT_TYPES, "order": list(SLOT_TYPES), "by_slot_type": slot_rows,
                     "total": sum(r["booked"] for r in slot_rows.values()),
                     "no_show": sum(r["no_show"] for r in slot_rows.values())},
        "appeals": appeal_figures(db_session, low, high, routing),
    }


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def workbook(data: dict[str, Any]) -> bytes:
    """The same figures as an XLSX workbook, one sheet per block, for the monthly report."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    bold = Font(bold=True)

    def sheet(title: str, header: list[str], rows: list[list[Any]], first: bool = False) -> Any:
        ws = book.active if first else book.create_sheet()
        ws.title = title
        ws.append(header)
        for cell in ws[1]:
            cell.font = bold
        for row in rows:
            ws.append(row)
        for column in ws.columns:
            ws.column_dimensions[column[0].column_letter].width = max(10, min(60, max(len(str(c.value or "")) for c in column) * 2))
        return ws

    handoffs, ratings = data["handoffs"], data["ratings"]
    sheet("概览", ["指标", "数值"], [
        ["统计期间", f"{data['start']} 至 {data['end']}"], ["接入量（会话·天）", data["contacts"]["total"]],
        ["消息轮次", data["turns"]["total"]], ["机器人独立解决率", _percent(data["containment_rate"])],
        ["转人工率", _percent(data["handoff_rate"])], ["转人工请求", handoffs["total"]], ["人工接入", handoffs["taken"]],
        ["排队中放弃", handoffs["abandoned"]], ["平均等待（秒）", handoffs["wait_mean_seconds"]],
        ["等待中位数（秒）", handoffs["wait_median_seconds"]], ["最长等待（秒）", handoffs["wait_max_seconds"]],
        ["评价数", ratings["total"]], ["满意率（基本满意及以上）", _percent(ratings["satisfied_rate"])],
        ["预约数", data["bookings"]["total"]], ["爽约数", data["bookings"]["no_show"]],
    ], first=True)
    channels = data["channels"]
    sheet("每日接入", ["日期", *channels.values(), "合计"],
          [[day, *row.values(), sum(row.values())] for day, row in data["contacts"]["per_day"].items()])
    sheet("处理结果", ["结果", "轮次"], [[data["turns"]["labels"][k], n] for k, n in data["turns"]["by_outcome"].items()])
    sheet("服务评价", ["评价", "条数"], [[level, n] for level, n in ratings["by_level"].items()])
    sheet("评价意见", ["时间", "评价", "渠道", "意见"], [[c["at"], c["level"], c["channel"], c["comment"]] for c in ratings["comments"]])
    sheet("热门事项", ["事项", "解答次数"], [list(row) for row in data["top_items"]])
    sheet("咨询要素", ["要素", "解答次数"], [list(row) for row in data["aspects"]])
    slot_types = data["bookings"]["slot_types"]
    sheet("5+X预约", ["时段类型", "预约", "取消", "到场", "爽约", "未登记", "爽约率"],
          [[slot_types[k], r["booked"], r["cancelled"], r["attended"], r["no_show"], r["unmarked"], _percent(r["no_show_rate"])]
           for k, r in data["bookings"]["by_slot_type"].items()])
    appeals = data["appeals"]
    sheet("诉求工单", ["指标", "数值"], [
        ["登记诉求", appeals["total"]], ["紧急", appeals["urgent"]], ["未办结", appeals["open"]], ["已超期未答复", appeals["overdue"]],
        ["已答复", appeals["answered"]], ["按期答复率", _percent(appeals["on_time_rate"])],
        *[[f"分类：{name}", n] for name, n in appeals["by_category1"]], *[[f"承办：{name}", n] for name, n in appeals["by_department"]]])
    sheet("热点诉求", ["件数", "未办结", "分类", "承办部门", "概要", "地点", "工单编号"],
          [[g["count"], g["open"], f"{g['category1']}/{g['category2']}", g["department"], g["summary"], "、".join(g["places"]),
            "、".join(g["numbers"])] for g in appeals["hot"]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def default_range(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last 30 days up to today."""
    return today - dt.timedelta(days=29), today


def by_channel_label(per_day: dict[str, Any], channels: dict[str, Any]) -> dict[str, Any]:
    """Per channel label, the counts of each day (the chart's series)."""
    series = defaultdict(list)
    for row in per_day.values():
        for channel, label in channels.items():
            series[label].append(row.get(channel, 0))
    return dict(series)
