"""Booking rules: validation, idempotent confirmation, one per person/item/day, cancel and reschedule."""
import datetime as dt

import pytest
from sqlalchemy import select

from bot.booking import service
from bot.booking.calendar import WorkCalendar
from bot.booking.models import Reminder, SlotCounter
from bot.booking.schedule import Schedule
from bot.clock import TZ
from bot.db import Database

ITEM = "居民身份证办理（包括临时）"
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
DAY = dt.date(2026, 11, 24)


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'b.db'}")
    database.migrate()
    return database


@pytest.fixture
def schedule():
    return Schedule.load(calendar=WorkCalendar())


def book(session, schedule, **kw):
    args = dict(db_session=session, schedule=schedule, item_name=ITEM, day=DAY, start="09:00", name="张三",
                phone="13812345678", now=NOW)
    args.update(kw)
    return service.book(**args)


@pytest.mark.parametrize("phone", ["1381234567", "23812345678", "138123456789", "12345678901", "abc"])
def test_bad_mobile_is_refused(phone):
    with pytest.raises(service.BookingError, match="手机号"):
        service.normalize_phone(phone)


def test_id_number_checksum():
    assert service.normalize_id_number("11010519491231002X") == "11010519491231002X"
    with pytest.raises(service.BookingError, match="校验位"):
        service.normalize_id_number("110105194912310021")
    with pytest.raises(service.BookingError, match="18位"):
        service.normalize_id_number("1101051949")


def test_code_is_unambiguous_and_lookup_needs_the_phone(db, schedule):
    with db.session() as s:
        booking = book(s, schedule)
    assert len(booking.code) == 6 and not set(booking.code) & set("01OI")
    with db.session() as s:
        assert service.lookup(db_session=s, code=booking.code.lower(), phone="13812345678").id == booking.id
        with pytest.raises(service.NotFound):
            service.lookup(db_session=s, code=booking.code, phone="13900000000")


def test_repeated_confirmation_books_once(db, schedule):
    with db.session() as s:
        first = book(s, schedule, request_id="r-1")
    with db.session() as s:
        again = book(s, schedule, request_id="r-1")
    assert again.code == first.code
    with db.session() as s:
        assert s.scalar(select(SlotCounter.taken)) == 1


def test_one_active_booking_per_person_item_day(db, schedule):
    with db.session() as s:
        book(s, schedule)
    with db.session() as s, pytest.raises(service.AlreadyBooked, match="已经预约过"):
        book(s, schedule, start="10:00")
    with db.session() as s:
        assert s.scalar(select(SlotCounter.taken).where(SlotCounter.start == "10:00")) in (None, 0)


def test_cancel_frees_the_seat_at_once_and_drops_reminders(db, schedule):
    with db.session() as s:
        booking = book(s, schedule)
    with db.session() as s:
        service.cancel(db_session=s, code=booking.code, phone="13812345678")
        assert s.scalar(select(SlotCounter.taken)) == 0
        assert {r.status for r in s.scalars(select(Reminder))} == {"cancelled"}
    with db.session() as s:  # the same person may book again
        book(s, schedule)


def test_reschedule_moves_the_seat(db, schedule):
    with db.session() as s:
        booking = book(s, schedule)
    with db.session() as s:
        moved = service.reschedule(db_session=s, schedule=schedule, code=booking.code, phone="13812345678",
                                   day=dt.date(2026, 11, 28), start="09:30", now=NOW)
        assert (moved.code, moved.day, moved.start) == (booking.code, dt.date(2026, 11, 28), "09:30")
        taken = dict(s.execute(select(SlotCounter.start, SlotCounter.taken)).all())
        assert taken == {"09:00": 0, "09:30": 1}


def test_full_slot_is_refused(db, schedule):
    capacity = schedule.group_for(ITEM).capacity
    for n in range(capacity):
        with db.session() as s:
            book(s, schedule, phone=f"1391234{n:04d}")
    with db.session() as s, pytest.raises(service.SlotFull, match="约满"):
        book(s, schedule, phone="13700000000")


def test_suggest_offers_extension_slots_and_nearest_alternatives(db, schedule):
    from bot.booking.dates import parse_when

    with db.session() as s:
        offers, reasons = service.suggest(db_session=s, schedule=schedule, item_name=ITEM,
                                          when=parse_when("周日", NOW), now=NOW)
    assert offers and "周日" in reasons[0]
    assert offers[0][0].day > dt.date(2026, 11, 29)
    with db.session() as s:
        offers, _ = service.suggest(db_session=s, schedule=schedule, item_name=ITEM, when=parse_when("明天中午", NOW), now=NOW)
    assert offers[0][0].extension and offers[0][0].start == dt.time(12, 0)


def test_a_time_the_counter_never_opens_is_said_so_not_full(db, schedule):
    from bot.booking.dates import parse_when

    with db.session() as s:  # the social-security counter has no evening "+X" hours
        offers, reasons = service.suggest(db_session=s, schedule=schedule, item_name="个人参保证明查询打印",
                                          when=parse_when("明天晚上六点", NOW), now=NOW)
    assert offers and reasons == ["人社医保综合窗口在您选的时间不开放预约"]
    with db.session() as s:  # the police counter has: a free evening is offered, no reason needed
        offers, reasons = service.suggest(db_session=s, schedule=schedule, item_name=ITEM, when=parse_when("明天晚上六点", NOW), now=NOW)
    assert reasons == [] and offers[0][0].start == dt.time(18, 0)


def test_reminder_is_queued_for_the_evening_before(db, schedule):
    with db.session() as s:
        booking = book(s, schedule, channel="webchat", conversation_id="webchat-abc")
        reminders = s.scalars(select(Reminder).order_by(Reminder.channel)).all()
    assert {(r.channel, r.target) for r in reminders} == {("sms", "13812345678"), ("webchat", "webchat-abc")}
    assert reminders[0].next_attempt_at.replace(tzinfo=dt.timezone.utc).astimezone(TZ).hour == 18
    assert booking.code in reminders[0].text
