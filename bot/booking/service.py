"""Booking service: free slots, book, look up, cancel, reschedule; plain functions taking db_session.

Capacity is enforced by the database: a seat is taken by `UPDATE slot_counters SET taken = taken + 1
WHERE ... AND taken < capacity` inside the booking's transaction, so concurrent requests can never
overbook (no check-then-insert race); one active booking per person, item and day is a partial unique
index; a repeated confirmation carries the same request id and returns the first booking.
"""
from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import clock
from bot.booking.calendar import CalendarUnknown
from bot.booking.dates import When, parse_when
from bot.booking.models import Booking, Reminder, SlotCounter
from bot.booking.schedule import DateNotBookable, Schedule, Slot, WindowGroup
from bot.clock import TZ
from bot.db import rowcount
from bot.errors import AppError
from bot.privacy import mask

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: easy to read aloud
CODE_LENGTH = 6
CODE_IN_TEXT = re.compile(r"(?<![A-Za-z0-9])([A-HJ-NP-Za-hj-np-z2-9]{6})(?![A-Za-z0-9])")  # CODE_ALPHABET, either case
MOBILE = r"1[3-9]\d(?:[ -]?\d{4}){2}"  # a mobile in a message, also typed in groups: "180 8045 7731", "139-1234-5678"
_MOBILE_IN_TEXT = re.compile(rf"(?<!\d){MOBILE}(?!\d)")
_CODE_WORD = re.compile(r"预约码|码[是为:：\s]|编号")
_MANAGE_VERB = re.compile(r"查|改|挪|推迟|取消|退")  # "再帮我查一下 F2WB5Q": a code with what to do with it


def names_a_booking(text: str) -> bool:
    """A code with the mobile, called a code ("预约码：BK94MM", "码是…") or with what to do ("再帮我查一下 F2WB5Q"): the message is about that booking, whatever
    else it says ("顺便查一下嘛，LHKSZ6，188…", "不约了，退掉，A92TUS，180…")."""
    if not text or text.startswith("/"):
        return False
    code = CODE_IN_TEXT.search(text)
    # with a verb alone, a code that looks like one (a digit, or typed in capitals), not an English word
    return code is not None and bool(_MOBILE_IN_TEXT.search(text) or _CODE_WORD.search(text) or _MANAGE_VERB.search(text)
                                     and (any(c.isdigit() for c in code.group(1)) or code.group(1).isupper()))


_CANCEL_WORDS = r"取消|取小|不约了|不去了|退(掉|了|号)|给我退|不要了|作废|撤(销|了|掉|回)"  # 取小: speech for 取消


_DONE_YET = re.compile(r"(改|换|挪|取消|退)(好|完|成功|过来)了?(吗|没有?|不|哇|哦)?(?![\u4e00-\u9fa5])|(改|换|挪|取消|退)了(吗|没有?)")


# changing a document or a name, not a booking: "换身份证", "补换社保卡", "改名字"
_A_DOCUMENT_CHANGED = re.compile(r"(改|换)[^，,。？?！!\s约号码]{0,4}?(证|卡|照|本|名)")


def manage_op(text: str) -> str:
    """What a booking message wants done: reschedule, cancel, or (default) look it up. "去不成了，改到周五" moves it;
    "改好了吗？", "取消了没" ask whether it was done: a look-up."""
    if _DONE_YET.search(text):
        return "lookup"
    if re.search(r"改(到|成|个|时间)|挪(到|一下)|换(到|成|个时间)|推(到|迟|后)|延(到|后|期)|顺延|往后|提前|调整", text):
        return "reschedule"
    if re.search(rf"{_CANCEL_WORDS}|去不(成|了)了?|来不了", text):
        return "cancel"
    if re.search(r"改|换|挪", _A_DOCUMENT_CHANGED.sub("", text)):
        return "reschedule"
    return "lookup"


def cancel_said(text: str) -> bool:
    """Cancelling said in words ("取消", "退了", "不约了", "我不去了", "撤了"), not only a reason ("周六去不成了": cancel or
    move it?)."""
    return bool(re.search(_CANCEL_WORDS, text))


_BOOKING_REFERENCE = re.compile(r"预约|约的|约了|约好|那个号|挂的号")


# asking after a booking already made: "查下我的预约", "我约的是哪天", "查下现在约的是星期几"
_LOOK_UP = re.compile(r"查.{0,3}(我的|那个)?预约|查.{0,16}(我|\d)约的|我的预约|约的是.{0,2}(哪|几|什么|星期|礼拜|周几|好久|啥时候)|"
                      r"约(的|在)(哪天|几号|几点|星期几|礼拜几|周几|好久|啥时候|什么时候)|预约.{0,2}(查|看)一?下")


def looks_up_a_booking(text: str) -> bool:
    return bool(_LOOK_UP.search(text))


def changes_a_booking(text: str) -> bool:
    """"那个预约我不去了", "约的那个能不能推到下周": cancelling or moving a booking already made, its code not given yet."""
    return bool(_BOOKING_REFERENCE.search(text)) and manage_op(text) != "lookup"


def moves_or_cancels(text: str) -> bool:
    """"上午走不脱 挪到当天下午三点嘛", "那天去不成了 给我退了": moving or cancelling said in words, without naming the
    booking (once one was made or found in the conversation, it is that one)."""
    return cancel_said(text) or bool(re.search(r"改(到|成)|挪(到|一下)|换(到|成)|推(到|迟|后)|延(到|后)|往后推|提前到|"
                                               r"改一?[下哈]|[改换]个(时间|日子|时候)", text))  # "那个能不能改一哈"


# asking for a booking in so many words: "帮我约明天上午十一点", "那帮我约一个吧", "好 预约一下"
_BOOK_FOR_ME = re.compile(r"(帮我|给我|替我|帮忙)(预约|约|订)|^(那|那就|就|好的?|行|要得|可以)?[，,\s]*(我?(想|要))?(预约|约)(一?个|一?下)(号|时间)?"
                          r"[吧嘛哈呗啊]?[。！!]?$")


def books_in_words(text: str) -> bool:
    """"帮我约明天上午", "那帮我约一个吧": a new booking asked for in so many words, whatever the classifier read (a
    mobile or a day alone do not say it: "我电话158… 帮我查下约的啥子时候" looks a booking up)."""
    return bool(_BOOK_FOR_ME.search(text.strip())) and not changes_a_booking(text) and not names_a_booking(text)


def asks_to_book(text: str) -> bool:
    """"下周三晚上六点约个办个体户营业执照，名字张小燕，手机177…", "我想约下周四晚上六点去换身份证", "那帮我约一个吧": a
    booking asked for, with the citizen's mobile or a day named or in so many words; not a question about booking
    ("约个号要带什么"). Without 约, the mobile and a day to come say it ("我要去办个居住证 明天上午 我叫黄丽 手机号151…"),
    not a day gone by ("上周四在窗口等了两个钟头，我电话135…": a complaint)."""
    said_book, mobile = "约" in text, bool(_MOBILE_IN_TEXT.search(text))
    if not (said_book or mobile) or changes_a_booking(text) or names_a_booking(text):
        return False
    if said_book and (mobile or _BOOK_FOR_ME.search(text.strip())):
        return True
    now = clock.now().replace(tzinfo=None)
    when = parse_when(text, now)
    return when is not None and when.day_given and (said_book or when.start.date() > now.date())


def only_details(text: str) -> bool:
    """The message gives the code and/or the mobile and nothing else ("预约码：VBFXHG", "电话139…"): it answers what the
    assistant asked or was asked before, and does not say what to do."""
    rest = _MOBILE_IN_TEXT.sub("", CODE_IN_TEXT.sub("", text))
    # ... with at most the words of a correction ("哦念错了，是9LRR5U", "不好意思说错了，是151…")
    return not re.sub(r"预约码|码|编号|电话|手机号?|号码|是|为|[:：，,。.!！\s]|[哦噢嗯哎呀]|不对|不好意思|刚才|刚刚|应该|"
                      r"[说念打输记写搞看报]错了?", "", rest)


def gives_a_code_or_mobile(text: str) -> bool:
    """A booking code (with a digit, or in capitals) or a mobile anywhere in the message."""
    code = CODE_IN_TEXT.search(text or "")
    return bool(_MOBILE_IN_TEXT.search(text or "")) or code is not None and (code.group(1).isupper() or any(c.isdigit() for c in code.group(1)))


def gives_booking_details(text: str, booked_here: bool) -> bool:
    """"XNXQD4", "码是7J52CS", "3TXS2P 139…": a booking code, alone or with the mobile (the classifier reads a code as
    yes, no or thanks); an all-letter word counts only in capitals or once a booking was made or found here ("thanks"
    is not). The mobile alone ("电话159…") counts once a booking was made or found here: it is that booking's."""
    if not text or text.startswith("/") or not only_details(text):
        return False
    code = CODE_IN_TEXT.search(text)
    if code is None:
        return booked_here and bool(_MOBILE_IN_TEXT.search(text))
    return booked_here or any(c.isdigit() for c in code.group(1)) or code.group(1).isupper()


REMINDER_HOUR = 18  # reminders go out at 18:00 the evening before
_PHONE = re.compile(r"^1[3-9]\d{9}$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


class BookingError(AppError):
    """A booking request that cannot be done; `reason` is said to the citizen, `status` is the HTTP code."""

    status = 400


class NotFound(BookingError):
    status = 404


class SlotFull(BookingError):
    status = 409


class AlreadyBooked(BookingError):
    status = 409


class RequestReused(BookingError):
    """A request_id already used for another person's or another slot's booking."""

    status = 409


NOT_FOUND = "没有找到这个预约：请核对预约码和预约时留的手机号"


def normalize_phone(value: str) -> str:
    """An 11-digit mainland mobile number, or BookingError."""
    phone = re.sub(r"[\s\-]", "", str(value or "")).removeprefix("+86")
    if not _PHONE.match(phone):
        raise BookingError("手机号格式不对，请输入11位手机号，例如 13812345678")
    return phone


def normalize_id_number(value: str) -> str:
    """An 18-character resident ID number with a valid GB 11643 check digit, or BookingError."""
    number = re.sub(r"\s", "", str(value or "")).upper()
    if not re.match(r"^\d{17}[\dX]$", number):
        raise BookingError("身份证号应为18位（最后一位可能是X），请再核对一下")
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    if _ID_CHECK[total % 11] != number[17]:
        raise BookingError("身份证号校验位不对，可能有一位输错了，请再核对一下")
    try:
        dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise BookingError("身份证号里的出生日期不对，请再核对一下") from None
    return number


def normalize_name(value: str) -> str:
    name = re.sub(r"\s", "", str(value or ""))
    if not 2 <= len(name) <= 20 or re.search(r"\d", name):
        raise BookingError("请告诉我办事人的姓名（2到20个字，不含数字）")
    return name


def group_for(schedule: Schedule, item_name: str) -> WindowGroup:
    group = schedule.group_for(item_name)
    if group is None:
        raise BookingError(f"“{item_name}”暂不支持网上预约，请直接到窗口办理或拨打12345咨询")
    return group


def _taken(db_session: Session, group_id: str, days: list[dt.date]) -> dict[tuple[dt.date, str], int]:
    rows = db_session.execute(
        select(SlotCounter.day, SlotCounter.start, SlotCounter.taken).where(SlotCounter.group_id == group_id, SlotCounter.day.in_(days))
    ).all()
    return {(r.day, r.start): r.taken for r in rows}


def free_slots(*, db_session: Session, schedule: Schedule, item_name: str, day: dt.date, now: dt.datetime) -> list[tuple[Slot, int]]:
    """Bookable slots of a day with seats left: [(slot, seats left)]. DateNotBookable / CalendarUnknown."""
    group = group_for(schedule, item_name)
    slots = schedule.bookable_slots(group, day, now)
    taken = _taken(db_session, group.id, [day])
    return [(s, group.capacity - taken.get((day, f"{s.start:%H:%M}"), 0)) for s in slots
            if group.capacity - taken.get((day, f"{s.start:%H:%M}"), 0) > 0]


def suggest(*, db_session: Session, schedule: Schedule, item_name: str, when: When | None, now: dt.datetime, limit: int = 4
            ) -> tuple[list[tuple[Slot, int]], list[str]]:
    """Free slots matching `when` (or the nearest after it), and the reasons days were skipped."""
    group = group_for(schedule, item_name)  # refuses an item that cannot be booked
    today = now.astimezone(TZ).date()
    first = max(today, when.days[0]) if when and when.day_given else today
    wanted_days = set(when.days) if when and when.day_given else None
    found: list[tuple[Slot, int]] = []
    reasons: list[str] = []
    matching: list[tuple[Slot, int]] = []
    for offset in range(schedule.horizon_days + 1):
        day = first + dt.timedelta(days=offset)
        if day > today + dt.timedelta(days=schedule.horizon_days):
            break
        try:
            slots = free_slots(db_session=db_session, schedule=schedule, item_name=item_name, day=day, now=now)
        except (DateNotBookable, CalendarUnknown) as exc:
            if wanted_days is None or day in wanted_days:
                reasons.append(getattr(exc, "reason", str(exc)))
            if isinstance(exc, CalendarUnknown):
                break  # later days of an unpublished year are unknown too
            continue
        for slot, left in slots:
            in_window = when is None or when.covers(day, slot.start)
            if in_window and (wanted_days is None or day in wanted_days):
                matching.append((slot, left))
            elif len(found) < limit:
                found.append((slot, left))
        if len(matching) >= limit:
            break
    if wanted_days is not None and not matching and not reasons:
        opens = any(when is None or when.covers(day, slot.start) for day in wanted_days for slot in schedule.day_slots(group, day))
        # "改到明天晚上六点" for a counter whose "+X" hours have no evening: it never opens then, no matter of seats
        reasons.append("您选的时间已经约满了" if opens else f"{group.name}在您选的时间不开放预约")
    return (matching or found)[:limit], reasons


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _ensure_counter(db_session: Session, group: WindowGroup, slot: Slot) -> None:
    insert = postgresql.insert if db_session.get_bind().dialect.name == "postgresql" else sqlite.insert
    db_session.execute(
        insert(SlotCounter).values(group_id=group.id, day=slot.day, start=f"{slot.start:%H:%M}", capacity=group.capacity, taken=0)
        .on_conflict_do_nothing(index_elements=["group_id", "day", "start"])
    )


def _take_seat(db_session: Session, group: WindowGroup, slot: Slot) -> None:
    _ensure_counter(db_session, group, slot)
    taken = rowcount(db_session.execute(
        update(SlotCounter)
        .where(SlotCounter.group_id == group.id, SlotCounter.day == slot.day, SlotCounter.start == f"{slot.start:%H:%M}",
               SlotCounter.taken < SlotCounter.capacity)
        .values(taken=SlotCounter.taken + 1)
    ))
    if taken != 1:
        raise SlotFull(f"{slot.label}已经约满了，请换一个时段")


def _release_seat(db_session: Session, booking: Booking) -> None:
    db_session.execute(
        update(SlotCounter)
        .where(SlotCounter.group_id == booking.group_id, SlotCounter.day == booking.day, SlotCounter.start == booking.start,
               SlotCounter.taken > 0)
        .values(taken=SlotCounter.taken - 1)
    )


def find_slot(schedule: Schedule, group: WindowGroup, day: dt.date, start: str, now: dt.datetime) -> Slot:
    for slot in schedule.bookable_slots(group, day, now):
        if f"{slot.start:%H:%M}" == start:
            return slot
    raise BookingError(f"{day.month}月{day.day}日没有 {start} 开始的可预约时段")


def _queue_reminders(db_session: Session, booking: Booking, now: dt.datetime) -> None:
    due = dt.datetime.combine(booking.day - dt.timedelta(days=1), dt.time(REMINDER_HOUR), tzinfo=TZ)
    due = max(due, now).astimezone(dt.timezone.utc)  # stored as UTC (SQLite keeps no zone)
    text = (f"【夹江县政务服务】提醒您：明天（{booking.day.month}月{booking.day.day}日）{booking.start}-{booking.end}"
            f"预约办理“{booking.item_name}”，预约码 {booking.code}。请带齐材料按时到场，如需取消请回复或拨打12345。")
    targets = [("sms", booking.phone)]
    if booking.conversation_id and booking.channel in ("webchat", "wechat"):
        targets.append((booking.channel, booking.conversation_id))
    for channel, target in targets:
        db_session.add(Reminder(booking_code=booking.code, channel=channel, target=target, text=text, next_attempt_at=due))


def _cancel_reminders(db_session: Session, code: str) -> None:
    db_session.execute(update(Reminder).where(Reminder.booking_code == code, Reminder.status == "pending").values(status="cancelled"))


def book(*, db_session: Session, schedule: Schedule, item_name: str, day: dt.date, start: str, name: str, phone: str,
         id_number: str | None = None, id_required: bool = False, channel: str = "api", conversation_id: str | None = None,
         request_id: str | None = None, now: dt.datetime | None = None) -> Booking:
    """Book one seat; the caller commits. A repeated request_id returns the first booking."""
    now = now or clock.now()
    name, phone = normalize_name(name), normalize_phone(phone)
    if request_id:
        existing = db_session.scalar(select(Booking).where(Booking.request_id == request_id))
        if existing is not None:
            return _same_request(existing, item_name=item_name, name=name, phone=phone)
    group = group_for(schedule, item_name)
    if id_required or id_number:
        id_number = normalize_id_number(id_number or "")
    slot = find_slot(schedule, group, day, start, now)
    savepoint = db_session.begin_nested()
    try:
        _take_seat(db_session, group, slot)
        booking = Booking(code=_new_code(), request_id=request_id, item_name=item_name, group_id=group.id, day=day,
                          start=f"{slot.start:%H:%M}", end=f"{slot.end:%H:%M}", name=name, phone=phone, id_number=id_number,
                          channel=channel, conversation_id=conversation_id)
        db_session.add(booking)
        db_session.flush()
        _queue_reminders(db_session, booking, now)
        db_session.flush()
    except IntegrityError as exc:
        savepoint.rollback()
        existing = db_session.scalar(select(Booking).where(Booking.request_id == request_id)) if request_id else None
        if existing is not None:
            return _same_request(existing, item_name=item_name, name=name, phone=phone)
        if "uq_booking_person_item_day" in str(exc.orig) or "phone" in str(exc.orig):
            raise AlreadyBooked(f"您（{mask(phone)}）在{day.month}月{day.day}日已经预约过“{item_name}”了，不用重复预约") from None
        raise
    except BookingError:
        savepoint.rollback()
        raise
    savepoint.commit()
    return booking


def _same_request(existing: Booking, *, item_name: str, name: str, phone: str) -> Booking:
    """A repeated request (double click, retry) gets its booking back; the same request_id with another person's data
    is refused, so nobody learns someone else's booking code by reusing their request id."""
    if (existing.item_name, existing.name, existing.phone) != (item_name, name, phone):
        raise RequestReused("这个请求编号已经用于另一个预约，请刷新页面后重新提交")
    return existing


def lookup(*, db_session: Session, code: str, phone: str) -> Booking:
    """The booking with this code and phone (both must match), or NotFound. An unknown code, a wrong phone and a
    malformed phone all get the same answer, so a look-up never tells whether a code exists."""
    code = re.sub(r"\s", "", code or "").upper()
    try:
        phone = normalize_phone(phone)
    except BookingError:
        phone = ""
    booking = db_session.scalar(select(Booking).where(Booking.code == code)) if len(code) <= 16 else None
    if booking is None or not phone or not hmac.compare_digest(booking.phone, phone):
        raise NotFound(NOT_FOUND)
    return booking


def booked_in_conversation(*, db_session: Session, conversation_id: str, phone: str) -> Booking | None:
    """The newest active booking a conversation made with this mobile, for a code misremembered in the same
    conversation ("那个码是789456对不？电话138…"): the conversation was told the code when it booked, so telling it
    again discloses nothing to anyone else. None when there is none (or the mobile is not one)."""
    try:
        phone = normalize_phone(phone)
    except BookingError:
        return None
    if not conversation_id:
        return None
    return db_session.scalar(select(Booking).where(Booking.conversation_id == conversation_id, Booking.phone == phone,
                                                   Booking.status == "active").order_by(Booking.created_at.desc()).limit(1))


def cancel(*, db_session: Session, code: str, phone: str) -> Booking:
    """Cancel and free the seat at once; cancelling twice is harmless."""
    booking = lookup(db_session=db_session, code=code, phone=phone)
    if booking.status == "active":
        booking.status = "cancelled"
        booking.cancelled_at = clock.utcnow()
        _release_seat(db_session, booking)
        _cancel_reminders(db_session, booking.code)
        db_session.flush()
    return booking


def reschedule(*, db_session: Session, schedule: Schedule, code: str, phone: str, day: dt.date, start: str,
               now: dt.datetime | None = None) -> Booking:
    """Move an active booking to another slot (same code); the old seat is freed in the same transaction."""
    now = now or clock.now()
    booking = lookup(db_session=db_session, code=code, phone=phone)
    if booking.status != "active":
        raise BookingError("这个预约已经取消了，不能改期；需要的话请重新预约")
    group = group_for(schedule, booking.item_name)
    slot = find_slot(schedule, group, day, start, now)
    savepoint = db_session.begin_nested()
    try:
        _take_seat(db_session, group, slot)
        _release_seat(db_session, booking)
        booking.day, booking.start, booking.end = day, f"{slot.start:%H:%M}", f"{slot.end:%H:%M}"
        db_session.flush()
        _cancel_reminders(db_session, booking.code)
        _queue_reminders(db_session, booking, now)
        db_session.flush()
    except IntegrityError:
        savepoint.rollback()
        raise AlreadyBooked(f"您在{day.month}月{day.day}日已经有一个“{booking.item_name}”的预约了") from None
    except BookingError:
        savepoint.rollback()
        raise
    savepoint.commit()
    return booking


def day_bookings(*, db_session: Session, day: dt.date) -> list[Booking]:
    return list(db_session.scalars(select(Booking).where(Booking.day == day).order_by(Booking.start, Booking.id)))
