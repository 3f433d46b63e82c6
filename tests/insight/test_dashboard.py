"""The dashboard's figures from a seeded database equal the figures counted here independently, day by day in county
time; the XLSX export holds the same figures; the page is served with its charts' data and Chart.js from the app."""
import datetime as dt
import io
import random
from zoneinfo import ZoneInfo

import pytest
from handoff.conftest import ADMIN, ADMIN_PASSWORD, Operator
from openpyxl import load_workbook

from bot.booking.models import Booking
from bot.booking.schedule import Schedule
from bot.conversations.models import Conversation
from bot.db import Database
from bot.handoff.models import RATING_LEVELS, Handoff, Rating
from bot.insight import dashboard
from bot.insight.models import BookingAttendance, TurnOutcome

TZ = ZoneInfo("Asia/Shanghai")
START, END = dt.date(2026, 11, 2), dt.date(2026, 11, 15)
CHANNELS = ["webchat", "wechat", "voice"]
ITEMS = ["出生登记", "社会保障卡申领", "补领结婚证", "最低生活保障"]
ASPECTS = ["materials", "fee", "item", "procedure"]
KINDS = ["answered", "answered", "answered", "options", "not_found", "handed_over", "operator", "other"]


def seed(database: Database, rng: random.Random) -> dict:
    """Random but reproducible activity from a day before START to a day after END (the edges must not count)."""
    made = {"turns": [], "handoffs": [], "ratings": [], "bookings": []}
    with database.session() as s:
        for n in range(60):
            channel = rng.choice(CHANNELS)
            conversation = Conversation(id=f"{channel}-c{n}", channel=channel, sender=f"s{n}")
            s.add(conversation)
            s.flush()
            for _ in range(rng.randint(1, 6)):
                local = dt.datetime.combine(START - dt.timedelta(days=1), dt.time(), TZ) + dt.timedelta(
                    minutes=rng.randint(0, 60 * 24 * 16 - 1))
                kind = rng.choice(KINDS)
                item = rng.choice(ITEMS) if kind == "answered" else None
                aspect = rng.choice(ASPECTS) if kind == "answered" else None
                s.add(TurnOutcome(conversation_id=conversation.id, channel=channel, outcome=kind, item_name=item, aspect=aspect,
                                  question="问", created_at=local.astimezone(dt.timezone.utc)))
                made["turns"].append((conversation.id, channel, kind, item, aspect, local))
            if rng.random() < 0.4:
                created = dt.datetime.combine(START, dt.time(9), TZ) + dt.timedelta(hours=rng.randint(-30, 24 * 15))
                wait = rng.randint(5, 600) if rng.random() < 0.8 else None
                status = "closed" if wait else rng.choice(["abandoned", "waiting"])
                s.add(Handoff(conversation_id=conversation.id, channel=channel, reason="asked", status=status,
                              created_at=created.astimezone(dt.timezone.utc),
                              taken_at=(created + dt.timedelta(seconds=wait)).astimezone(dt.timezone.utc) if wait else None))
                made["handoffs"].append((created, wait, status))
            if rng.random() < 0.5:
                level = rng.choice(list(RATING_LEVELS))
                created = dt.datetime.combine(START, dt.time(10), TZ) + dt.timedelta(hours=rng.randint(-30, 24 * 15))
                comment = rng.choice(["", "", "态度很好", "等太久了，我的电话13812345678"])
                s.add(Rating(conversation_id=conversation.id, level=level, score=RATING_LEVELS[level], comment=comment, channel=channel,
                             created_at=created.astimezone(dt.timezone.utc)))
                made["ratings"].append((created, level, comment))
        for n in range(40):
            day = START + dt.timedelta(days=rng.randint(-2, 15))
            start = rng.choice(["09:00", "10:30", "12:00", "12:30", "15:00", "17:30", "18:00"])
            status = "cancelled" if rng.random() < 0.15 else "active"
            booking = Booking(code=f"B{n:05d}", item_name="出生登记", group_id="police", day=day, start=start, end="23:59",
                              name="测试", phone=f"139{n:08d}", channel="webchat", status=status)
            s.add(booking)
            s.flush()
            mark = rng.choice([None, "attended", "no_show"]) if day < dt.date(2026, 11, 14) else None
            if mark:
                s.add(BookingAttendance(booking_id=booking.id, status=mark))
            made["bookings"].append((day, start, status, mark))
    return made


def expected(made: dict, schedule: Schedule) -> dict:
    """The figures counted the plain way."""
    in_range = [t for t in made["turns"] if START <= t[5].date() <= END]
    contacts = {}
    for conversation_id, channel, kind, _, _, local in in_range:
        contacts.setdefault((conversation_id, local.date()), [channel, False])
        if kind in ("handed_over", "operator"):
            contacts[(conversation_id, local.date())][1] = True
    per_day = {}
    for (_, day), (channel, _) in contacts.items():
        per_day.setdefault(day.isoformat(), {}).setdefault(channel, 0)
        per_day[day.isoformat()][channel] += 1
    handed = sum(1 for _, person in contacts.values() if person)
    items, aspects = {}, {}
    for t in in_range:
        if t[2] == "answered":
            items[t[3]] = items.get(t[3], 0) + 1
            aspects[t[4]] = aspects.get(t[4], 0) + 1
    handoffs = [h for h in made["handoffs"] if START <= h[0].date() <= END]
    waits = [h[1] for h in handoffs if h[1]]
    ratings = [r for r in made["ratings"] if START <= r[0].date() <= END]
    extension = {t for low, high in schedule.groups["police"].extension_workday for t in ("12:00", "12:30", "17:30", "18:00")
                 if low <= dt.time.fromisoformat(t) < high}
    slots = {}
    today = dt.datetime.now(TZ).date()
    for day, start, status, mark in made["bookings"]:
        if not START <= day <= END:
            continue
        kind = "weekend" if day.weekday() >= 5 else "workday_extension" if start in extension else "regular"
        row = slots.setdefault(kind, {"booked": 0, "cancelled": 0, "attended": 0, "no_show": 0, "unmarked": 0})
        if status == "cancelled":
            row["cancelled"] += 1
        else:
            row["booked"] += 1
            if mark:
                row[mark] += 1
            elif day < today:
                row["unmarked"] += 1
    return {"contacts": len(contacts), "per_day": per_day, "handed": handed, "items": items, "aspects": aspects,
            "handoffs": len(handoffs), "waits": waits, "abandoned": sum(1 for h in handoffs if h[2] == "abandoned"),
            "levels": {lvl: sum(1 for r in ratings if r[1] == lvl) for lvl in RATING_LEVELS},
            "satisfied": sum(1 for r in ratings if RATING_LEVELS[r[1]] >= 3), "ratings": len(ratings),
            "comments": sum(1 for r in ratings if r[2]), "slots": slots}


@pytest.fixture
def seeded(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'seeded.db'}")
    database.migrate()
    made = seed(database, random.Random(17))
    yield database, made
    database.engine.dispose()


def test_the_figures_equal_those_counted_independently(seeded):
    database, made = seeded
    schedule = Schedule.load()
    want = expected(made, schedule)
    with database.session() as s:
        got = dashboard.figures(db_session=s, start=START, end=END, schedule=schedule)
    assert got["contacts"]["total"] == want["contacts"] > 20
    for day, row in got["contacts"]["per_day"].items():
        assert {c: n for c, n in row.items() if n} == want["per_day"].get(day, {}), day
    assert got["containment_rate"] == round((want["contacts"] - want["handed"]) / want["contacts"], 4)
    assert got["handoff_rate"] == round(want["handed"] / want["contacts"], 4)
    assert dict(got["top_items"]) == want["items"]
    aspect_labels = dashboard.ASPECTS
    assert dict(got["aspects"]) == {aspect_labels[a]: n for a, n in want["aspects"].items()}
    assert got["handoffs"]["total"] == want["handoffs"] and got["handoffs"]["taken"] == len(want["waits"])
    assert got["handoffs"]["abandoned"] == want["abandoned"]
    assert got["handoffs"]["wait_mean_seconds"] == pytest.approx(sum(want["waits"]) / len(want["waits"]), abs=0.05)
    assert got["handoffs"]["wait_max_seconds"] == max(want["waits"])
    assert got["ratings"]["by_level"] == want["levels"] and got["ratings"]["total"] == want["ratings"]
    assert got["ratings"]["satisfied_rate"] == round(want["satisfied"] / want["ratings"], 4)
    assert len(got["ratings"]["comments"]) == want["comments"]
    assert all("13812345678" not in c["comment"] for c in got["ratings"]["comments"])  # comments are masked
    for kind, row in want["slots"].items():
        assert {k: got["bookings"]["by_slot_type"][kind][k] for k in row} == row, kind
    assert got["bookings"]["total"] == sum(r["booked"] for r in want["slots"].values())


def test_the_xlsx_export_and_the_page(insight_client):
    client = insight_client
    made = seed(client.app.state.database, random.Random(5))
    admin = Operator(client, ADMIN, ADMIN_PASSWORD)
    params = f"start={START}&end={END}"
    figures = admin.get(f"/console/api/admin/insight/dashboard?{params}").json()
    response = admin.get(f"/console/api/admin/insight/dashboard.xlsx?{params}")
    assert response.status_code == 200 and response.headers["content-disposition"].endswith('.xlsx"')
    book = load_workbook(io.BytesIO(response.content))
    overview = {row[0]: row[1] for row in book["概览"].iter_rows(values_only=True)}
    assert overview["接入量（会话·天）"] == figures["contacts"]["total"] == expected(made, Schedule.load())["contacts"]
    assert overview["转人工请求"] == figures["handoffs"]["total"]
    daily = list(book["每日接入"].iter_rows(values_only=True))
    assert sum(row[-1] for row in daily[1:]) == figures["contacts"]["total"] and len(daily) == 1 + (END - START).days + 1
    assert {row[0]: row[1] for row in list(book["服务评价"].iter_rows(values_only=True))[1:]} == figures["ratings"]["by_level"]
    assert {row[0]: row[1] for row in list(book["热门事项"].iter_rows(values_only=True))[1:]} == dict(figures["top_items"])
    page = admin.get(f"/console/admin/dashboard?{params}")
    assert page.status_code == 200 and 'id="chart-contacts"' in page.text and "/static/console/insight/chart.umd.min.js" in page.text
    assert "cdn" not in page.text.lower()
    script = client.get("/static/console/insight/chart.umd.min.js")
    assert script.status_code == 200 and "Chart.js v4" in script.text[:200]
    assert client.get("/static/console/insight/chart.js-LICENSE.md").status_code == 200
    assert admin.get("/console/api/admin/insight/dashboard?start=2026-11-15&end=2026-11-01").status_code == 422
    assert admin.get("/console/api/admin/insight/dashboard?start=0001-01-01&end=0001-01-02").status_code == 422
    assert admin.get("/console/admin/dashboard?start=9999-12-30&end=9999-12-31").status_code == 422
