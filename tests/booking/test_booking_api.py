"""Appointments JSON API: slots, book, look up, cancel, reschedule, admin listing; 4xx with reasons."""
import datetime as dt

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.clock import TZ
from bot.rasa_client import RasaClient
from bot.settings import Settings

ITEM = "居民身份证办理（包括临时）"


def next_days(count=2):
    """Upcoming plain working days (Mon-Thu, not the current half-day)."""
    import chinese_calendar

    day, found = dt.datetime.now(TZ).date() + dt.timedelta(days=1), []
    while len(found) < count:
        if day.weekday() < 4 and chinese_calendar.is_workday(day):
            found.append(day)
        day += dt.timedelta(days=1)
    return found


@pytest.fixture
def client(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}", admin_token="s3cret-admin")
    rasa = RasaClient("http://rasa.test", transport=httpx.MockTransport(lambda r: httpx.Response(200, json=[])))
    with TestClient(create_app(settings, rasa=rasa)) as c:
        yield c


def create(client, day, start="09:00", phone="13812345678", **extra):
    body = {"item": ITEM, "date": day.isoformat(), "start": start, "name": "李四", "phone": phone, **extra}
    return client.post("/api/appointments", json=body)


def test_slots_book_lookup_reschedule_cancel(client):
    day, other = next_days()
    slots = client.get("/api/appointments/slots", params={"item": ITEM, "date": day.isoformat()}).json()
    assert slots[0]["start"] == "09:00" and any(s["extension"] for s in slots)
    created = create(client, day)
    assert created.status_code == 201
    code = created.json()["code"]
    assert created.json()["phone"] == "138****5678" and created.json()["name"] == "李*"
    seats = {s["start"]: s["seats_left"] for s in client.get("/api/appointments/slots", params={"item": ITEM, "date": day.isoformat()}).json()}
    assert seats["09:00"] == seats["09:30"] - 1
    assert client.get(f"/api/appointments/{code}", params={"phone": "13812345678"}).json()["status"] == "active"
    moved = client.post(f"/api/appointments/{code}/reschedule", json={"phone": "13812345678", "date": other.isoformat(), "start": "14:00"})
    assert moved.status_code == 200 and moved.json()["date"] == other.isoformat() and moved.json()["code"] == code
    cancelled = client.post(f"/api/appointments/{code}/cancel", json={"phone": "13812345678"})
    assert cancelled.json()["status"] == "cancelled"


@pytest.mark.parametrize(
    "params, status, words",
    [
        ({"item": "不存在的事项", "date": "2026-12-01"}, 400, "暂不支持网上预约"),
        ({"item": ITEM, "date": "2020-01-01"}, 422, "已经过去"),
        ({"item": ITEM, "date": "2027-03-03"}, 422, None),
        ({"item": ITEM, "date": "not-a-date"}, 422, None),
    ],
)
def test_slot_errors_have_reasons(client, params, status, words):
    response = client.get("/api/appointments/slots", params=params)
    assert response.status_code == status
    body = response.json()
    assert body.get("error") or body.get("reasons")
    if words:
        assert words in body["error"]


def test_booking_errors_have_reasons(client):
    day, _ = next_days()
    assert "手机号" in create(client, day, phone="12345").json()["error"]
    assert create(client, day, start="08:00").status_code == 400
    assert create(client, day).status_code == 201
    again = create(client, day, start="10:00")
    assert again.status_code == 409 and "已经预约过" in again.json()["error"]
    assert client.get("/api/appointments/ZZZZZZ", params={"phone": "13812345678"}).status_code == 404
    assert client.post("/api/appointments", json={"item": ITEM}).status_code == 422


def test_repeated_request_id_books_once(client):
    day, _ = next_days()
    first = create(client, day, request_id="click-1").json()
    second = create(client, day, request_id="click-1").json()
    assert first["code"] == second["code"]


def test_admin_listing_and_csv_need_the_token(client):
    day, _ = next_days()
    code = create(client, day).json()["code"]
    assert client.get("/api/admin/appointments", params={"date": day.isoformat()}).status_code == 401
    headers = {"Authorization": "Bearer s3cret-admin"}
    listing = client.get("/api/admin/appointments", params={"date": day.isoformat()}, headers=headers).json()
    assert [b["code"] for b in listing] == [code]
    csv_text = client.get("/api/admin/appointments", params={"date": day.isoformat(), "format": "csv"}, headers=headers).text
    assert code in csv_text and "13812345678" not in csv_text and "138****5678" in csv_text
