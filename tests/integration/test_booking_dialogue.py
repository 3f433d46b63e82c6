"""Booking by chat through the real app and the real trained Rasa model."""
import datetime as dt
import re

import chinese_calendar
import httpx

from bot.clock import TZ
from knowledge.service import get_index

ID_CARD = "居民身份证办理（包括临时）"


def texts(replies):
    return "\n".join(r["text"] for r in replies)


def payload_buttons(replies):
    return [b for r in replies for b in r["buttons"]]


def next_workday(after_days=2):
    day = dt.datetime.now(TZ).date() + dt.timedelta(days=after_days)
    while not chinese_calendar.is_workday(day) or day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def book_by_chat(chat, opening="我上班没空，周六能不能去办身份证", phone="13812345678"):
    replies = chat(opening)
    for _ in range(6):  # pick the first offered slot (date and/or time) until the form asks for the name
        buttons = payload_buttons(replies)
        if "姓名" in texts(replies) or not buttons:
            break
        replies = chat(buttons[0]["payload"])
    assert "姓名" in texts(replies), texts(replies)
    replies = chat("张三")
    assert "手机号" in texts(replies)
    replies = chat(phone)
    assert "请核对预约信息" in texts(replies) and f"{phone[:3]}****{phone[-4:]}" in texts(replies)
    return replies


def test_book_with_read_back_code_and_materials_then_look_up_and_cancel(chat):
    book_by_chat(chat)
    done = texts(chat("/affirm"))
    assert "预约成功" in done
    code = re.search(r"预约码：([A-Z2-9]{6})", done).group(1)
    for material in get_index().kb.by_name(ID_CARD).materials:
        assert material.name in done
    looked = texts(chat("我预约的是哪天"))
    assert code in looked and "有效" in looked
    cancelled = texts(chat("我要取消预约"))
    assert "已为您取消预约" in cancelled and code in cancelled


def test_saturday_offer_includes_x_slots(chat):
    replies = chat("我上班没空，周六能不能去办身份证")
    assert "5+X" in texts(replies) or any("周六" in b["title"] for b in payload_buttons(replies)), texts(replies)


def test_change_of_mind(chat):
    replies = chat("我想预约办社保卡")
    assert payload_buttons(replies)
    assert "没有为您预约" in texts(chat("不约了"))


def test_closed_day_gets_reason_and_alternatives(chat):
    replies = chat("下周日能去办身份证吗 我想预约")
    assert "不办公" in texts(replies) and payload_buttons(replies)


def test_declined_confirmation_books_nothing(chat):
    book_by_chat(chat)
    assert "没有为您预约" in texts(chat("/deny"))


def test_full_slot_is_refused_with_alternatives(chat, stack):
    day = next_workday(3)
    for n in range(4):  # the police window group has 4 seats per slot
        response = httpx.post(f"{stack.url}/api/appointments", json={
            "item": ID_CARD, "date": day.isoformat(), "start": "09:00", "name": "王五", "phone": f"1370000{n:04d}"})
        assert response.status_code == 201, response.text
    replies = chat(f"我要预约{day.month}月{day.day}日办身份证")
    assert "可以约这些时段" in texts(replies)
    assert not any(b["payload"].endswith(" 09:00") for b in payload_buttons(replies))
    assert "没有空位" in texts(chat("9:00"))


def test_look_up_with_wrong_phone_finds_nothing(chat):
    replies = chat("查一下我的预约 预约码ABCDEF")
    assert "手机号" in texts(replies)
    assert "没有找到这个预约" in texts(chat("13900001111"))


def test_reschedule_to_next_week_keeps_the_code(chat):
    book_by_chat(chat)
    code = re.search(r"预约码：([A-Z2-9]{6})", texts(chat("/affirm"))).group(1)
    replies = chat("改到下周")
    offers = payload_buttons(replies)
    assert code in texts(replies) and offers, texts(replies)
    assert all(b["payload"].startswith("/cancel_appointment{") for b in offers)
    moved = texts(chat(offers[0]["payload"]))
    assert "改期成功" in moved and code in moved
    looked = texts(chat("我预约的是哪天"))
    day = offers[0]["payload"].split('"')[3].split()[0]
    month, date = int(day[5:7]), int(day[8:10])
    assert f"{month}月{date}日" in looked and code in looked


def test_a_name_before_the_time_is_kept_and_a_time_corrected_at_the_read_back_is_taken(chat):
    day = next_workday(3)
    on = f"{day.month}月{day.day}日"
    assert "可以约这些时段" in texts(chat(f"帮我约{on}办身份证"))
    named = chat("邓明亮")  # the name before choosing a time: kept, the times offered again, no "no free place"
    assert "没有空位" not in texts(named) and "可以约这些时段" in texts(named), texts(named)
    asked = chat(payload_buttons(named)[0]["payload"])
    assert "手机号" in texts(asked) and "姓名" not in texts(asked), texts(asked)
    read_back = texts(chat("13912345670"))
    assert "请核对预约信息" in read_back and "邓明亮" in read_back
    changed = texts(chat(f"时间改一下，上午走不开，改成{on}晚上六点半"))  # the time after 改成, not the morning given up
    assert "请核对预约信息" in changed and f"{on} 18:30" in changed, changed
    assert "18:30-19:00" in texts(chat("对"))


def test_a_part_of_the_day_gets_its_earliest_free_time_said_and_changeable(chat):
    day = next_workday(3)
    on = f"{day.month}月{day.day}日"
    opening = texts(chat(f"帮我约{on}下午办身份证"))
    chosen = re.search(r"最早可以约(\d\d:\d\d)", opening)
    assert chosen and "13:00" <= chosen.group(1) < "18:00" and "姓名" in opening, opening
    read_back = texts(chat("王芳，13912345671"))
    assert f"{on} {chosen.group(1)}" in read_back
    changed = texts(chat("改成三点"))
    assert f"{on} 15:00" in changed, changed


def test_a_reason_without_what_to_do_asks_cancel_or_move_and_a_move_without_the_code_moves_it(chat):
    book_by_chat(chat, phone="13900007777")  # a person of its own: no other booking of theirs is in the way
    code = re.search(r"预约码：([A-Z2-9]{6})", texts(chat("/affirm"))).group(1)
    asked = chat(f"预约码{code}，那天去不成了")
    assert "要取消这个预约，还是改个时间" in texts(asked) and "已为您取消" not in texts(asked)
    assert [b["title"] for b in payload_buttons(asked)] == ["取消预约", "改个时间"]
    offers = payload_buttons(chat("手机13900007777，改到下周"))  # booked in this conversation: the code is known
    assert offers and all(b["payload"].startswith("/cancel_appointment{") for b in offers)
    assert "改期成功" in texts(chat(offers[0]["payload"]))
    cancelled = texts(chat("我不去了，取消那个预约"))
    assert "已为您取消预约" in cancelled and code in cancelled


def test_a_move_to_a_part_of_a_named_day_takes_its_earliest_free_time(chat):
    book_by_chat(chat, phone="13900008888")
    code = re.search(r"预约码：([A-Z2-9]{6})", texts(chat("/affirm"))).group(1)
    day = next_workday(3)
    moved = texts(chat(f"预约码{code}，手机13900008888，改到{day.month}月{day.day}日下午"))
    assert "改期成功" in moved and code in moved and "最早能约" in moved, moved
    assert re.search(r"1[3-6]:[03]0-", moved)  # an afternoon slot
