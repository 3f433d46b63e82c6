"""The "5+X" schedule and the holiday calendar (chinesecalendar + the local override for 2027 on)."""
import datetime as dt

import pytest

from bot.booking.calendar import CalendarUnknown, WorkCalendar
from bot.booking.schedule import DateNotBookable, Schedule
from bot.clock import TZ

ID_CARD = "居民身份证办理（包括临时）"


@pytest.fixture
def schedule():
    return Schedule.load(calendar=WorkCalendar())


def starts(slots):
    return [f"{s.start:%H:%M}" for s in slots]


def test_working_day_has_regular_and_extension_slots(schedule):
    group = schedule.group_for(ID_CARD)
    slots = schedule.day_slots(group, dt.date(2026, 11, 26))  # a Thursday
    assert starts(slots)[:2] == ["09:00", "09:30"]
    assert "12:00" in starts(slots) and "19:00" in starts(slots)  # lunch and evening "+X"
    assert all(s.extension for s in slots if s.start >= dt.time(17) or dt.time(12) <= s.start < dt.time(13, 30))
    assert not any(s.extension for s in slots if s.start == dt.time(9))


def test_ordinary_saturday_has_only_the_x_morning(schedule):
    slots = schedule.day_slots(schedule.group_for(ID_CARD), dt.date(2026, 11, 28))
    assert starts(slots) == ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"] and all(s.extension for s in slots)


def test_make_up_working_saturday_is_a_full_working_day(schedule):
    slots = schedule.day_slots(schedule.group_for(ID_CARD), dt.date(2026, 10, 10))  # 调休上班
    assert "14:00" in starts(slots) and not all(s.extension for s in slots)


@pytest.mark.parametrize("day, words", [(dt.date(2026, 10, 1), "法定节假日"), (dt.date(2026, 11, 29), "周日")])
def test_closed_days_say_why(schedule, day, words):
    with pytest.raises(DateNotBookable, match=words):
        schedule.day_slots(schedule.group_for(ID_CARD), day)


def test_2027_is_unknown_without_override_and_works_from_override(schedule, tmp_path):
    group = schedule.group_for(ID_CARD)
    with pytest.raises(CalendarUnknown, match="2027年的放假安排尚未公布"):
        schedule.day_slots(group, dt.date(2027, 1, 6))
    override = tmp_path / "holidays.yaml"
    override.write_text("已覆盖年份: [2027]\n放假: [2027-01-01]\n调休上班: [2027-01-09]\n", encoding="utf-8")
    covered = Schedule.load(calendar=WorkCalendar.load(override))
    assert "14:00" in starts(covered.day_slots(group, dt.date(2027, 1, 6)))  # Wednesday
    assert "14:00" in starts(covered.day_slots(group, dt.date(2027, 1, 9)))  # 调休 Saturday
    with pytest.raises(DateNotBookable, match="法定节假日"):
        covered.day_slots(group, dt.date(2027, 1, 1))
    with pytest.raises(CalendarUnknown):
        covered.day_slots(group, dt.date(2028, 1, 5))


def test_shipped_override_file_loads():
    assert isinstance(WorkCalendar.load().covered_years, set)


def test_current_half_day_past_and_horizon_are_refused(schedule):
    group = schedule.group_for(ID_CARD)
    morning = dt.datetime(2026, 11, 26, 10, 0, tzinfo=TZ)
    assert starts(schedule.bookable_slots(group, dt.date(2026, 11, 26), morning))[0] == "12:00"
    afternoon = dt.datetime(2026, 11, 26, 15, 0, tzinfo=TZ)
    with pytest.raises(DateNotBookable, match="不能预约当前半天"):
        schedule.bookable_slots(group, dt.date(2026, 11, 26), afternoon)
    with pytest.raises(DateNotBookable, match="已经过去"):
        schedule.bookable_slots(group, dt.date(2026, 11, 25), afternoon)
    with pytest.raises(DateNotBookable, match="最多只能提前14天"):
        schedule.bookable_slots(group, dt.date(2026, 12, 20), afternoon)


def test_schedule_times_are_county_time(schedule):
    group = schedule.group_for(ID_CARD)
    utc_night = dt.datetime(2026, 11, 26, 1, 0, tzinfo=dt.timezone.utc)  # 09:00 in Sichuan
    assert starts(schedule.bookable_slots(group, dt.date(2026, 11, 26), utc_night))[0] == "12:00"
