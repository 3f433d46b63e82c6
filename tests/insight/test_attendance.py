"""Marking whether a booked citizen came, from the console's 预约到场 page and its API: masked, audited, refused for a
cancelled booking or one still to come, admins only; the dashboard counts the no-show."""
import datetime as dt

from handoff.conftest import admin_and_operator

from bot.booking.models import Booking
from bot.clock import TZ, utcnow


def book(client, code: str, day: dt.date, status: str = "active", phone: str = "13912345678") -> None:
    with client.app.state.database.session() as s:
        s.add(Booking(code=code, item_name="出生登记", group_id="police", day=day, start="09:00", end="09:30", name="王小明",
                      phone=phone, channel="webchat", status=status))


def test_staff_mark_attended_and_no_show_from_the_console(insight_client):
    client = insight_client
    today = utcnow().astimezone(TZ).date()
    book(client, "ATT001", today)
    book(client, "ATT002", today, phone="13912345679")
    book(client, "ATT003", today, status="cancelled", phone="13912345670")
    book(client, "ATT004", today + dt.timedelta(days=1), phone="13912345671")
    admin, operator = admin_and_operator(client)

    page = admin.get(f"/console/admin/bookings?date={today.isoformat()}")
    assert page.status_code == 200
    assert "ATT001" in page.text and "王**" in page.text and "139****5678" in page.text and "王小明" not in page.text
    assert page.text.count('data-api="/console/api/admin/insight/bookings/ATT001/attendance"') == 2  # 已到场, 未到场
    assert "/bookings/ATT003/attendance" not in page.text  # cancelled: nothing to mark

    url = "/console/api/admin/insight/bookings/{}/attendance"
    assert admin.post(url.format("att001"), {"status": "attended"}).json() == {"code": "ATT001", "status": "attended", "label": "已到场"}
    assert admin.post(url.format("ATT002"), {"status": "no_show"}).status_code == 200
    assert admin.post(url.format("ATT002"), {"status": "late"}).status_code == 422
    assert "已取消" in admin.post(url.format("ATT003"), {"status": "no_show"}).json()["error"]
    assert "还没到" in admin.post(url.format("ATT004"), {"status": "no_show"}).json()["error"]
    assert admin.post(url.format("NOPE99"), {"status": "no_show"}).status_code == 404
    assert operator.post(url.format("ATT001"), {"status": "no_show"}).status_code == 403

    page = admin.get(f"/console/admin/bookings?date={today.isoformat()}").text
    assert "已到场" in page and "未到场（爽约）" in page
    audit = admin.get("/console/api/admin/audit?action=booking").json()["entries"]
    assert sorted(e["target"] for e in audit) == ["ATT001", "ATT002"] and any("未到场" in e["detail"] for e in audit)
    assert '<option value="booking"' in admin.get("/console/admin/audit").text
    figures = admin.get(f"/console/api/admin/insight/dashboard?start={today.isoformat()}&end={today.isoformat()}").json()
    assert figures["bookings"]["no_show"] == 1


def test_only_admins_see_the_page(insight_client):
    _admin, operator = admin_and_operator(insight_client)
    page = operator.get("/console/admin/bookings")
    assert page.status_code != 200 or "预约到场登记" not in page.text
