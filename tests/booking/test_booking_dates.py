"""Chinese date and time expressions, relative to Wednesday 2026-11-25 10:00 in Sichuan."""
import datetime as dt

import pytest

from bot.booking.dates import parse_when, shift_days, without_shift
from bot.clock import TZ

NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=TZ)


@pytest.mark.parametrize(
    "text, day, start, end",
    [
        ("今天", "2026-11-25", None, None),
        ("明天", "2026-11-26", None, None),
        ("后天", "2026-11-27", None, None),
        ("周六", "2026-11-28", None, None),
        ("这周六", "2026-11-28", None, None),
        ("下周三", "2026-12-02", None, None),
        ("下个礼拜一", "2026-11-30", None, None),
        ("11月30号", "2026-11-30", None, None),
        ("12.5", "2026-12-05", None, None),
        ("明天中午休息的时候可以去交材料吗", "2026-11-26", "12:00", "13:59"),
        ("我上班没空，周六能不能去办身份证", "2026-11-28", None, None),
        ("下午三点", None, "15:00", "15:59"),
        ("三点", None, "15:00", "15:59"),
        ("晚上", None, "18:00", "23:59"),
        ("早上", None, "06:00", "09:59"),
        ("中午", None, "12:00", "13:59"),
        # a correction: the time after 改到/改成 is the one wanted, not the one being given up
        ("不对，周三我有事，改到下周五下午", "2026-12-04", "13:00", "17:59"),
        ("时间改一下，中午走不开，改成下周一晚上六点半", "2026-11-30", "18:30", "18:30"),
        ("那天要加班，改到下周二", "2026-12-01", None, None),
        # a part of the day, then the clock time inside it: that time on that day
        ("我下周五中午过来开，帮我约十二点", "2026-12-04", "12:00", "12:59"),
        # a time said to be impossible is not the one wanted, though its day holds for a time said without one
        ("下周一上午有事，下午可以", "2026-11-30", "13:00", "17:59"),
        # a time of day asked about before the day is said ("晚上能去办不"), then the day with its time
        ("我白天要上班 晚上能去办不 帮我约下周三晚上", "2026-12-02", "18:00", "23:59"),
        # the day and time settled on after "就", not a day given up before it in other words
        ("还是不对，周六他要去医院体检，就这周五中午嘛，十二点", "2026-11-27", "12:00", "12:59"),
    ],
)
def test_expressions(text, day, start, end):
    when = parse_when(text, NOW)
    assert when is not None
    assert when.day_given == (day is not None)
    if day:
        assert when.start.date().isoformat() == day
    if start:
        assert f"{when.start:%H:%M}" == start and f"{when.end:%H:%M}" == end
    else:
        assert when.whole_day


def test_next_week_is_a_span():
    when = parse_when("改到下周", NOW)
    assert [d.isoformat() for d in when.days][0] == "2026-11-30" and len(when.days) == 7


def test_no_time_in_text():
    assert parse_when("我要预约办身份证", NOW) is None
    assert parse_when("后天晚上临时要加班 帮我改个时间", NOW) is None  # the time given up, no time wanted
    assert parse_when("名字写错了 是高明 明天的明", NOW) is None  # 明 spelled out by 明天


@pytest.mark.parametrize("text, days", [
    ("那个预约往后推一天 还是中午", 1), ("推迟两天", 2), ("往后挪一周", 7), ("提前一天", -1), ("顺延1天", 1),
    ("改到下周三", None), ("推到下周", None),
])
def test_a_move_by_days_is_counted_from_the_booking(text, days):
    assert shift_days(text) == days


def test_the_time_of_day_said_with_a_move_by_days_is_kept():
    when = parse_when(without_shift("往后推一天 还是中午"), NOW.replace(tzinfo=None))
    assert when is not None and not when.day_given and when.start.hour == 12


@pytest.mark.parametrize("text, hour", [("一点那个", 13), ("一点半那个", 13), ("十一点那个", 11), ("十一点", 11), ("二十一点", 21)])
def test_one_oclock_is_a_time_and_eleven_stays_eleven(text, hour):
    when = parse_when(text, dt.datetime(2026, 12, 8, 9, 30))
    assert when is not None and when.start.hour == hour


@pytest.mark.parametrize("text", ["快一点嘛", "等一点"])
def test_a_little_is_no_time(text):
    assert parse_when(text, dt.datetime(2026, 12, 8, 9, 30)) is None


@pytest.mark.parametrize("text", ["能不能改成下午三点 7XMNB6 19912345678", "下午三点 码是7XMNB6", "下午三点 手机13812345678",
                                  "下午三点 身份证511126199601270665"])
def test_a_code_mobile_or_id_number_said_with_the_time_adds_no_minutes(text):
    # a booking code beginning with a digit right after "三点" had been read as its minutes (15:07)
    when = parse_when(text, dt.datetime(2026, 12, 8, 9, 30))
    assert when is not None and (when.start.hour, when.start.minute) == (15, 0)


def test_now_is_no_time_wanted():
    assert parse_when("改好了吗？帮我查下现在约的是哪天", dt.datetime(2026, 12, 8, 9, 30)) is None


def test_the_day_said_wrong_is_not_the_day_wanted():
    when = parse_when("不是周四 搞错了 是周五 其他不变", dt.datetime(2026, 12, 8, 9, 30))
    assert when is not None and when.start.date() == dt.date(2026, 12, 11)  # the Friday, not the Thursday
