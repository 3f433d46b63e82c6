"""Reminder outbox: SMS through the real twilio client with its HTTP layer replaced (no network),
retries with back-off, nothing lost, a cancelled booking's reminder not sent."""
import asyncio
import datetime as dt
import json
import logging

import pytest
from sqlalchemy import select
from twilio.http import HttpClient
from twilio.http.response import Response

from bot.booking import reminders, service
from bot.booking.calendar import WorkCalendar
from bot.booking.models import Reminder
from bot.booking.schedule import Schedule
from bot.clock import TZ
from bot.db import Database
from bot.delivery import Deliveries
from bot.push import PushHub

ITEM = "居民身份证办理（包括临时）"
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
EVENING = dt.datetime(2026, 11, 23, 18, 1, tzinfo=TZ)


class FakeTwilioHttp(HttpClient):
    """Stands in for twilio's HTTP layer: records requests, fails the first `failures` of them."""

    def __init__(self, failures: int = 0):
        super().__init__(logging.getLogger("fake-twilio"), is_async=False)
        self.requests, self.failures = [], failures

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None, allow_redirects=False):
        self.requests.append((method, url, data))
        if len(self.requests) <= self.failures:
            return Response(503, json.dumps({"message": "Service Unavailable", "code": 20503}))
        return Response(201, json.dumps({"sid": "SM" + "0" * 32, "status": "queued", "body": data["Body"]}))


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'r.db'}")
    database.migrate()
    return database


def booked(db, phone="13812345678"):
    with db.session() as s:
        return service.book(db_session=s, schedule=Schedule.load(calendar=WorkCalendar()), item_name=ITEM,
                            day=dt.date(2026, 11, 24), start="09:00", name="张三", phone=phone, now=NOW)


def outlets(db, **by_channel) -> Deliveries:
    deliveries = Deliveries(db, PushHub(db))
    for channel, outlet in by_channel.items():
        deliveries.register(channel, outlet)
    return deliveries


def statuses(db):
    with db.session() as s:
        return [(r.channel, r.status, r.attempts) for r in s.scalars(select(Reminder).order_by(Reminder.id))]


def test_sms_is_sent_through_twilio_the_evening_before(db):
    booking = booked(db)
    http = FakeTwilioHttp()
    senders = outlets(db, sms=reminders.twilio_sms_outlet("AC" + "1" * 32, "token", "+15005550006", http_client=http))
    assert asyncio.run(reminders.send_due(db, senders, NOW))["sent"] == 0  # not due yet in the morning
    assert asyncio.run(reminders.send_due(db, senders, EVENING))["sent"] == 1
    method, url, data = http.requests[0]
    assert method == "POST" and url.endswith("/Messages.json")
    assert data["To"] == "+8613812345678" and booking.code in data["Body"]
    assert statuses(db) == [("sms", "sent", 1)]
    assert asyncio.run(reminders.send_due(db, senders, EVENING))["sent"] == 0  # never twice


def test_failed_send_is_retried_with_backoff_and_not_lost(db):
    booked(db)
    http = FakeTwilioHttp(failures=2)
    senders = outlets(db, sms=reminders.twilio_sms_outlet("AC" + "1" * 32, "token", "+15005550006", http_client=http))
    assert asyncio.run(reminders.send_due(db, senders, EVENING))["retry"] == 1
    assert asyncio.run(reminders.send_due(db, senders, EVENING))["retry"] == 0  # backing off
    later = EVENING + dt.timedelta(seconds=31)
    assert asyncio.run(reminders.send_due(db, senders, later))["retry"] == 1
    assert asyncio.run(reminders.send_due(db, senders, later + dt.timedelta(seconds=61)))["sent"] == 1
    assert statuses(db) == [("sms", "sent", 3)]


def test_cancelled_booking_reminder_is_not_sent(db):
    booking = booked(db)
    with db.session() as s:
        service.cancel(db_session=s, code=booking.code, phone="13812345678")
    sent = []

    async def sms(target, reply):
        sent.append(target)

    assert asyncio.run(reminders.send_due(db, outlets(db, sms=sms), EVENING))["sent"] == 0
    assert sent == []


def test_unreachable_channel_is_kept_as_failed(db):
    with db.session() as s:
        service.book(db_session=s, schedule=Schedule.load(calendar=WorkCalendar()), item_name=ITEM, day=dt.date(2026, 11, 24),
                     start="09:00", name="张三", phone="13812345678", now=NOW, channel="wechat", conversation_id="wechat-x")

    async def wechat(target, reply):
        raise reminders.ChannelUnavailable("48小时客服消息窗口已关闭")

    async def sms(target, reply):
        pass

    counts = asyncio.run(reminders.send_due(db, outlets(db, sms=sms, wechat=wechat), EVENING))
    assert counts == {"sent": 1, "retry": 0, "failed": 1, "cancelled": 0}
    assert sorted(statuses(db)) == [("sms", "sent", 1), ("wechat", "failed", 1)]
