"""Appointments ("5+X") in dialogue: a booking form with validation, read-back and confirmation, and
look-up / cancel / reschedule by code and mobile. The booking rules live in bot/booking/service.py."""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from actions.desk import goodbye_then_rating, says_goodbye, wants_a_person
from actions.guides import (
    MOVE_OFFERED,
    MOVED_TO_EARLIEST,
    ORDINAL_RE,
    ORDINALS,
    about_the_booking_made,
    answer_question,
    corrects_the_read_back,
    last_said,
    latest_intent,
    names_an_item,
    not_found,
    opens_new_topic,
    picks_a_time_for_the_move,
    say,
    topic_entries,
)
from actions.service_question import THANKS_WORD, is_service_question, says_nothing_more
from bot import clock
from bot.booking import service
from bot.booking.calendar import CalendarUnknown
from bot.booking.dates import When, parse_when, shift_days, without_shift
from bot.booking.models import Booking
from bot.booking.schedule import DateNotBookable, Slot
from bot.booking.service import cancel_said, manage_op, only_details
from bot.privacy import mask
from bot.services import current
from knowledge.answers import answer, aspect_in, aspects_in, how_asked
from knowledge.normalize import normalize
from knowledge.schema import Entry
from knowledge.service import get_index

log = logging.getLogger(__name__)

BOOKING_SLOTS = ["booking_item", "booking_date", "booking_time", "booking_name", "booking_phone", "booking_id_number",
                 "booking_window", "booking_request_id"]
T = TypeVar("T")
_ISO = re.compile(r"(\d{4}-\d{2}-\d{2})(?:\s+(\d{2}:\d{2}))?")
_HHMM = re.compile(r"^\s*(\d{1,2})[:：](\d{2})\s*$")
_CODE = service.CODE_IN_TEXT
_PHONE = re.compile(rf"(?<![\d-])({service.MOBILE})(?![\d-])")  # phone_of() gives its digits
_ID_IN_TEXT = re.compile(r"(?<![\dXx])(\d{17}[\dXx])(?![\dXx])")


def phone_of(found: re.Match[str]) -> str:
    return re.sub(r"\D", "", found.group(1))


def now() -> dt.datetime:
    return clock.now()


def text_of(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""


def with_session(fn: Callable[[Session], T]) -> T:
    """Run fn(session) in one transaction of the app's database."""
    with current().database.session() as session:
        return fn(session)


def own_booking(conversation_id: str, phone: str) -> Booking | None:
    """The newest active booking this conversation made with this mobile; None also when the database cannot say
    (a code not found is then answered as before, not with an error)."""
    try:
        return with_session(lambda s: service.booked_in_conversation(db_session=s, conversation_id=conversation_id,
                                                                     phone=phone))
    except SQLAlchemyError as exc:  # (its text carries the statement's parameters: the mobile)
        log.warning("查询本次对话的预约失败：%s", type(exc).__name__)
        return None


# Booking words and times, left out when the rest of a booking message is searched for the item it names.
_BOOKING_WORDS = re.compile(r"(重新|再)?(帮我|给我|能不能|能否|可不可以|麻烦|请)?(预约|约个?号?|挂个?号|登记一个)(一下)?|"
                            r"(这|下下?|本)?(周|星期|礼拜)[一二三四五六日天]|明天|后天|今天|上午|下午|中午|晚上|傍晚|"
                            r"[一二三四五六七八九十两\d]+点(半|钟)?|的?预约|去政务中心|过去|"
                            # "身份证511126…": the booking's ID number, not the ID card to do
                            r"(?:[我他她的]*)(?:身份证|证件)(?:号码?)?[:：是为]?\s*(?=\d{6})")


def item_of(text: str) -> Entry | None:
    """The item a message names: the whole message, else the message without its booking words and times, else
    the first of its parts that names one ("…办结婚登记嘛，我叫何婷婷，电话151…": the name and phone are not the item)."""
    index = get_index()
    found = index.resolve(_BOOKING_WORDS.sub(" ", text)).entry  # "这个可以预约不": no item is named (not 公证业务预约办理)
    if found is not None:
        return found
    for part in re.split(r"[，,。；;！!？?\s]+", _BOOKING_WORDS.sub(" ", text)):
        if len(part) >= 2 and not name_in(part) and not re.search(r"\d{5,}", part):
            resolution = index.resolve(part)
            if resolution.entry is not None and names_an_item(resolution.hits):  # a part names it, not only resembles
                return resolution.entry  # how people ask about one ("写娃娃的名字" is no birth registration)
    return None


def bookable_item(text: str, context_item_id: str | None) -> tuple[str | None, str | None]:
    """(item name, problem): the item named in text, else the one in context; must be bookable."""
    index = get_index()
    named, in_context = item_of(text), index.kb.by_id(context_item_id or "")
    if named is not None and in_context is not None and not names_apart(named, in_context, _BOOKING_WORDS.sub(" ", text)):
        named = None  # "我是个体户，约个这周六上午" right after 个体工商户注销登记: 个体户 names it too, not only the registration
    entry = named or in_context
    if entry is None:
        return None, None
    if not is_bookable(entry):
        return None, f"“{entry.name}”暂不支持预约办理，可以直接到窗口办理，或拨打12345咨询。"
    return entry.name, None


def names_apart(named: Entry, in_context: Entry, text: str) -> bool:
    """Whether the message says a word of `named`'s name or aliases that `in_context`'s lack ("身份证" after 社保卡; "那居住证
    约个…" after the migrant children's schooling, whose keywords say 居住证 but whose name does not)."""
    def names(entry: Entry) -> str:
        return " ".join(normalize(w) for w in [entry.name, *entry.aliases])
    theirs, mine = names(named), names(in_context)
    return any(w in theirs and w not in mine for w in get_index().tokens(normalize(text)) if len(w) >= 2)


def is_bookable(entry: Entry) -> bool:
    return entry.detailed and bool(entry.get("是否支持预约办理")) and current().schedule.group_for(entry.name) is not None


# a yes, or several ("对 确认", "好的，没问题")
AFFIRM = re.compile(r"^(?:(?:对|对的|对头|是|是的|好|好的|可以|行|没问题|要得|嗯|嗯嗯|确认|确定|就这个|就它|就这样|就这么办|没错|随便|都行|都可以|哪个都行|无所谓)"
                    r"[。！!啊嘛哈的了]*[\s，,、]*)+$")


def exact_slot(free: list[tuple[Slot, int]], when: When | None) -> Slot | None:
    """The free slot a precise time names ("十点", "18:30"; "十二点一刻": the slot 12:00-12:30 it falls in), or None when
    the citizen gave a part of day or nothing."""
    if when is None or when.whole_day or when.end - when.start > dt.timedelta(hours=1):
        return None
    on_day = [slot for slot, _ in free if not when.day_given or slot.day == when.start.date()]
    at = when.start.time()
    return next((slot for slot in on_day if slot.start == at), None) or next(
        (slot for slot in on_day if slot.start < at < slot.end), None)


def earliest_in_part(free: list[tuple[Slot, int]], when: When | None, day: dt.date) -> Slot | None:
    """For a part of the day ("傍晚", "下午"), the earliest free slot in it on `day`: offered as the time (the read-back
    shows it, and "改成三点" changes it), as a person at the counter would; None for a whole day or a precise time."""
    if when is None or when.whole_day or when.end - when.start <= dt.timedelta(hours=1):
        return None
    part = When(dt.datetime.combine(day, when.start.time()), dt.datetime.combine(day, when.end.time()), True)
    inside = [slot for slot, _ in free if slot.day == day and part.covers(day, slot.start)]
    # "下午" is the hall's afternoon (13:30-) when it is open then; a "5+X" slot is for those who ask for it: "中午"
    # (12:00-13:59) is the lunch-time service, though the hall opens again at 13:30 inside it
    regular = next((slot for slot in inside if not slot.extension), None)
    if regular is not None and dt.datetime.combine(day, regular.start) <= part.start + dt.timedelta(hours=1):
        return regular
    return next(iter(inside), None)


def chosen_note(slot: Slot) -> str:
    return f"{slot.day.month}月{slot.day.day}日这个时段最早可以约{slot.start:%H:%M}，先为您选上；要换时间可以直接说，例如“改成几点”。"


# the cue may name a relative ("我妈叫冯秀英": the person who comes to the hall)
_KINS = "妈 爸 母亲 父亲 老汉 爷爷 奶奶 外婆 外公 老婆 老公 爱人 儿子 女儿 娃儿 娃娃 孩子 大爷 婆婆".split()
_KIN = "".join(f"|(?<={kin})" for kin in _KINS)
# ... or name the relative after the cue: "办事人是我妈罗素珍"
_RELATIVE = rf"(?:(?:我的?|(?:娃娃?|娃儿|孩子)的?[他她]?)?(?:{'|'.join(_KINS)})(?=[\u4e00-\u9fa5]{{2,4}}(?:[，,。\s]|电话|手机|$)))?"
# "他叫钟树林", "…，她叫唐志远": the person spoken of
_NAME = re.compile(rf"(?:我叫|(?:^|(?<=[，,、\s]){_KIN}|(?<=^[他她])|(?<=[，,、\s][他她]))叫|我是|姓名[:：是]?|名字(?:就|要)?[:：是叫写填]?|(?:办事|申请|代办|经办|联系)人[:：是]?)\s*{_RELATIVE}([\u4e00-\u9fa5]{{2,4}}?)"
                   r"(?=[，,。\s]|电话|手机|$)")
# a name alone between separators right before the mobile: "李四，139…", "…约个办护照，冯磊，188…"
# ("王树清，我电话138…", "罗子涵，电话是我的152…", "曾秀英，电话写我的136…": the mobile may be another's)
_NAME_BEFORE_PHONE = re.compile(rf"(?:^|[，,、\s])\s*{_RELATIVE}([\u4e00-\u9fa5]{{2,4}})\s*[，,、 ]\s*(?:[我他她]的?)?(?:电话|手机号?|联系电话)?"
                                rf"(?:号码?)?[:：]?(?:是|留|写|填)?(?:[我他她]的)?\s*{service.MOBILE}")
# the name after a cue saying whose it is: "名字写他的，王树清", "写娃娃的名字，罗子涵", "名字就写我妈的 刘淑华"
_NAME_AFTER_WHOSE = re.compile(r"(?:名字(?:就|要)?(?:写|填|用)[^，,。\s]{1,4}的|(?:写|填|用)[^，,。\s]{1,4}的名字)[，,、:：\s]*"
                               r"(?:是|叫)?([\u4e00-\u9fa5]{2,4}?)(?=[，,。\s]|电话|手机|$)")
# words of a reply, a thanks or a goodbye: never a name ("好的，拜拜" where the name is asked)
# "名字写错了 是张丽 美丽的丽": the name after 是 in a correction of the name
_NAME_FIX = re.compile(r"(?:名字|姓名).{0,4}(?:错|不对).{0,3}?(?:是|叫|改成)\s*([\u4e00-\u9fa5]{2,4}?)(?=[，,。\s]|$)")
# a name standing alone between spaces before the phone's words: "名字写我妈的 刘淑华 电话留我的 137…"
_NAME_ALONE = re.compile(r"(?:^|\s)([\u4e00-\u9fa5]{2,4})\s+(?:(?:会计|老板|本人|家属|员工|经办人)\s+)?(?=电话|手机)")  # "蒋伟 会计 电话…"
# characters of words around a name, never in one given as the name ("写我妈的", "写错了")
_NOT_IN_A_NAME = re.compile(r"[我你他她的了写错是不要对就这那吗呢嘛啥]")
NOT_A_NAME = re.compile(r"个人|人工|客服|拜拜|再见|谢谢|多谢|感谢|麻烦|好的|好嘞|算了|不用|不要|没问题|可以|确认|是的|对的|晓得|知道|明白|预约|约个|电话|手机|"
                        r"会计|公司|单位|老板|员工|职工|家属|代办|本人|工作|村上|社区|镇上|"  # "我是公司会计，谭静": who, not the name
                        r"那个|等一?[下哈会]|等等|稍等|哎呀")  # "一点那个": a time picked; "等一哈，电话是136…": a pause, no name


def name_in(text: str) -> str | None:
    """A citizen's name given with a cue ("我叫李四", "名字是李四", "名字写他的，王树清"), as a correction ("名字写错了 是张丽"),
    or before the phone ("李四，139…", "名字写我妈的 刘淑华 电话留我的 137…")."""
    for pattern in (_NAME_FIX, _NAME, _NAME_AFTER_WHOSE, _NAME_BEFORE_PHONE, _NAME_ALONE):
        for match in pattern.finditer(text):  # "我是代办的，他女儿，我叫蒋红": the second cue names her
            if not NOT_A_NAME.search(match.group(1)) and not _NOT_IN_A_NAME.search(match.group(1)):
                return match.group(1)
    return None


def time_slots(item: str, when: When | None, day: dt.date | None) -> dict[str, Any]:
    """Booking slots a date or time phrase fills: the day when it names one with free slots, the window, and the exact
    slot when a precise time names a free one."""
    if when is None or not item:
        return {}
    found: dict[str, Any] = {"booking_window": window_of(when)}
    if when.day_given and len(when.days) == 1:
        day = when.days[0]
    if day is None:
        return found
    free = with_session(lambda s: service.free_slots(db_session=s, schedule=current().schedule, item_name=item, day=day, now=now()))
    if not free:
        return found
    found["booking_date"] = day.isoformat()
    named = exact_slot(free, When(dt.datetime.combine(day, when.start.time()), dt.datetime.combine(day, when.end.time()), True)) \
        or earliest_in_part(free, when, day)
    found["booking_time"] = f"{named.start:%H:%M}" if named else None
    return found


def people_in(text: str) -> dict[str, Any]:
    """Who comes, as a free-text message says it: name, mobile, ID number (when valid)."""
    found: dict[str, Any] = {}
    phone = _PHONE.search(text)
    if phone:
        found["booking_phone"] = phone_of(phone)
    name = name_in(text)
    if name:
        found["booking_name"] = name
    id_number = _ID_IN_TEXT.search(text)
    if id_number:  # "…电话180…，身份证号511126…": kept when it is a valid number (the form asks again otherwise)
        with contextlib.suppress(service.BookingError):
            found["booking_id_number"] = service.normalize_id_number(id_number.group(1))
    return found


def details_in(text: str, item: str | None, day: dt.date | None) -> dict[str, Any]:
    """Every booking detail a free-text message carries: name, mobile, ID number, day and time."""
    found = people_in(text)
    try:
        found.update(time_slots(item or "", parse_when(text, now()), day))
    except (DateNotBookable, CalendarUnknown):
        pass
    return {k: v for k, v in found.items() if v is not None or k == "booking_time"}


def needs_id_number(item_name: str | None) -> bool:
    entry = get_index().kb.by_name(item_name or "")
    return entry is not None and bool(entry.get("预约需身份证号"))


def person_details(text: str, item_name: str | None, dispatcher: CollectingDispatcher | None = None) -> dict[str, Any]:
    """Name, mobile and, when the item's booking needs it, ID number, wherever in the form they come (several in one
    message: "赵磊 136… 身份证号5111…"). An ID number the item does not need is not kept; one it needs that is not
    valid is said so (to `dispatcher`), and the form asks for it again."""
    found = people_in(text)
    if not needs_id_number(item_name):
        found.pop("booking_id_number", None)
    elif dispatcher is not None and "booking_id_number" not in found and (typed := _ID_IN_TEXT.search(text)):
        try:
            service.normalize_id_number(typed.group(1))
        except service.BookingError as exc:
            dispatcher.utter_message(text=exc.reason + "。")
    return found


def window_of(when: When | None) -> str | None:
    """A time-of-day window like 12:00-13:59 when the citizen named one (中午, 下午三点)."""
    if when is None or when.whole_day:
        return None
    return f"{when.start:%H:%M}-{when.end:%H:%M}"


def when_from(tracker: Tracker, day: dt.date | None = None) -> When | None:
    window = tracker.get_slot("booking_window")
    if not window:
        return None
    start, end = (dt.time.fromisoformat(part) for part in window.split("-"))
    base = day or now().date()
    return When(dt.datetime.combine(base, start), dt.datetime.combine(base, end), day_given=day is not None)


def offered_times(free: list[tuple[Slot, int]], window: When | None, day: dt.date) -> list[tuple[Slot, int]]:
    """The times offered on `day`: the free ones in the asked window (none free there: the whole day's), at most six.
    The question lists these, and "第二个", "对" or the no-seat message read the same list."""
    return ([(s, n) for s, n in free if window is None or window.covers(day, s.start)] or free)[:6]


def offer_buttons(slots: list[tuple[Slot, int]], prefix: str = "") -> list[dict[str, Any]]:
    return [{"title": f"{slot.label}（余{left}）", "payload": f"{prefix}{slot.day.isoformat()} {slot.start:%H:%M}"} for slot, left in slots]


def materials_of(item_name: str) -> list[str]:
    entry = get_index().kb.by_name(item_name)
    return [m.name for m in entry.materials] if entry else []


def about_a_booking(tracker: Tracker, text: str) -> bool:
    """The message is about a booking made (named, looked up, moved, cancelled), not a new one."""
    return service.names_a_booking(text) or service.looks_up_a_booking(text) or about_the_booking_made(tracker, text) or \
        picks_a_time_for_the_move(tracker, text)


class ActionStartBooking(Action):
    """Booking asked for: take the item, day and time of day from the message before the form asks."""

    def name(self) -> str:
        return "action_start_booking"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = text_of(tracker)
        if corrects_the_read_back(tracker, text):  # "等一下 时间改成后天下午两点半" read as a new booking at the read-back
            return [FollowupAction("action_booking_change")]
        if about_a_booking(tracker, text):  # "预约码ABPCC4，电话182…，能不能往后挪到下周六", "我想查下预约",
            return [FollowupAction("action_start_manage")]  # "明天下午走不开 改到后天上午十点": the booking made, not a new one
        if not service.asks_to_book(text) and is_service_question(latest_intent(tracker), text):
            # "我下个月满六十，办退休要拿些啥子": no booking asked for
            return answer_question(dispatcher, tracker) + [FollowupAction("action_listen")]
        item, problem = bookable_item(text, tracker.get_slot("item"))
        events = [SlotSet(name, None) for name in BOOKING_SLOTS]
        # "残疾证咋个办，帮我约下周去残联": how it is done is asked too, besides the booking
        asked = aspects_in(text) or how_asked(text)
        entry = get_index().kb.by_name(item or "") or item_of(text)
        if asked and entry is not None:  # "要带啥子？帮我约个周六": the question first, then the booking
            guide = answer(entry, asked[0], tuple(asked[1:]))
            dispatcher.utter_message(text=guide.text)
            events += [SlotSet("item", entry.id), SlotSet("aspect", asked[0])]
        if problem:
            dispatcher.utter_message(text=problem)
            if item is None:  # the one item named cannot be booked: no form asking for another ("那医保电子凭证咋个弄" is
                return events + [FollowupAction("action_listen")]  # a question again, "好嘛晓得了" a goodbye)
        events.append(SlotSet("booking_item", item))
        when = parse_when(text, now())
        events.append(SlotSet("booking_window", window_of(when)))
        events += [SlotSet(k, v) for k, v in person_details(text, item, dispatcher).items() if v]  # "…约办护照，我叫袁野，电话139…"
        if item and when and when.day_given and len(when.days) == 1:
            try:
                free = with_session(lambda s: service.free_slots(db_session=s, schedule=current().schedule, item_name=item,
                                                                 day=when.days[0], now=now()))
                if free:
                    events.append(SlotSet("booking_date", when.days[0].isoformat()))
                    named = exact_slot(free, when)
                    if named is not None:  # "下周一上午十点": that slot, no need to ask for the time again
                        events.append(SlotSet("booking_time", f"{named.start:%H:%M}"))
                    elif (earliest := earliest_in_part(free, when, when.days[0])) is not None:  # "下下周一傍晚"
                        dispatcher.utter_message(text=chosen_note(earliest))
                        events.append(SlotSet("booking_time", f"{earliest.start:%H:%M}"))
                else:
                    dispatcher.utter_message(text=f"{when.days[0].month}月{when.days[0].day}日已经约满了。")
            except (DateNotBookable, CalendarUnknown) as exc:
                dispatcher.utter_message(text=getattr(exc, "reason", str(exc)) + "。")
        return events + [FollowupAction("booking_form")]


def not_a_name(name: str) -> bool:
    """An answer, a change of mind or a question ("是的", "算了", "那要多久"), not a person's name."""
    return bool(AFFIRM.match(name) or re.match(r"^(不|没|算了|取消|那|还)", name) or aspect_in(name) or NOT_A_NAME.search(name)
                or re.search(r"[吗呢嘛？?]|多久|怎么|什么|啥|哪", name))


def plain_name(text: str) -> str | None:
    """A message that is only a name ("邓明亮", "我叫邓明亮"): the name; else None."""
    name = re.sub(r"^(我叫|我是|姓名[:：]?)", "", text.strip()).strip(" ，,、。")
    return name if re.fullmatch(r"[\u4e00-\u9fa5]{2,4}(·[\u4e00-\u9fa5]{1,6})?", name) and not not_a_name(name) else None


def leaving_the_booking(tracker: Tracker) -> str | None:
    """The action a message in the middle of the booking form leaves it for, when it is no answer to what was asked:
    a person asked for ("算了 你帮我转人工嘛"), or giving up or a goodbye without any booking detail ("这个预约不要了",
    "拜拜"). Rasa's rules only see deny and cancel_appointment there; other words went to the form, which asked again
    and again."""
    text = text_of(tracker)
    if wants_a_person(text):
        return "action_request_human"
    if (_GIVE_UP.search(text) or done_talking(text)) and not details_in(text, tracker.get_slot("booking_item"), _day_of(tracker)):
        return "action_booking_abandon"  # "晓得了 谢谢" where the item is asked: done, nothing booked
    return None


def asked_before(tracker: Tracker) -> str | None:
    """The slot the booking form asked for last (the form's own requested_slot is cleared when it stops)."""
    for event in reversed(tracker.events):
        if event.get("event") == "slot" and event.get("name") == "requested_slot" and event.get("value"):
            return str(event["value"])
    return None


class ValidateBookingForm(FormValidationAction):
    """Check each answer of the booking form; say why when it does not fit, with alternatives."""

    def name(self) -> str:
        return "validate_booking_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        leave_for = leaving_the_booking(tracker)
        if leave_for:  # the form stops here (requested_slot None) and the followup action takes the message
            return [SlotSet("requested_slot", None), FollowupAction(leave_for)]
        return list(await super().run(dispatcher, tracker, domain))

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[str]:
        if not needs_id_number(tracker.get_slot("booking_item")):
            return [s for s in domain_slots if s != "booking_id_number"]
        return domain_slots

    def validate_booking_item(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        offered, picked = offered_items(tracker), ORDINAL_RE.match(normalize(str(value or "")))
        if picked and 1 <= ORDINALS[picked.group(1)] <= len(offered):  # "2", "第二个" among the items offered
            value = offered[ORDINALS[picked.group(1)] - 1]
        if AFFIRM.match(str(value or "").strip()):  # "确认" where the item is asked: no item (a catalogue name holds 确认);
            return {"booking_item": None}  # the form asks for it again
        item, problem = bookable_item(str(value or ""), None)
        if item is None:
            if offered and problem is None:  # "那后天中午12点半嘛" while the items wait: which one first (the time is kept)
                dispatcher.utter_message(text=REOFFER, buttons=item_buttons(offered))
            else:
                dispatcher.utter_message(text=problem or "没有找到这个事项，请说一下您要办理的事项名称，例如“身份证”“社保卡”。")
            return {"booking_item": None}
        # "那帮我约个失业登记 也是下周一上午": the day, time, name and mobile said with the item are kept too, and so are
        # those said before the item was picked from options ("预约补办社保卡 后天晚上6点" → options → "2")
        given: dict[str, Any] = {}
        for said in [text_of(tracker), *said_while_the_item_was_asked(tracker)]:
            given = {**{k: v for k, v in details_in(said, item, None).items() if v is not None}, **given}
        given = {k: v for k, v in given.items() if not tracker.get_slot(k)}
        if given.get("booking_time") is None:
            given.pop("booking_time", None)
        return {**given, "booking_item": item}

    def validate_booking_date(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        text = str(value or "")
        item = tracker.get_slot("booking_item")
        iso = _ISO.search(text)
        when = None
        if iso:
            day = dt.date.fromisoformat(iso.group(1))
        else:
            when = parse_when(text, now())
            if when is None or not when.day_given:
                given = person_details(text, item, dispatcher)
                if given:  # "我叫谢婷 手机191…" before the day: kept, the day is asked again
                    return {"booking_date": None, **given}
                if answered_in_the_form(dispatcher, tracker, text):
                    return {"booking_date": None}
                dispatcher.utter_message(text="没听明白是哪一天，可以说“明天”“周六”“下周三”或“12月5日”，也可以点下面的时段。")
                return {"booking_date": None}
            day = when.days[0]
        try:
            free = with_session(lambda s: service.free_slots(db_session=s, schedule=current().schedule, item_name=item, day=day, now=now()))
        except (DateNotBookable, CalendarUnknown) as exc:
            dispatcher.utter_message(text=getattr(exc, "reason", str(exc)) + "，请换一天。")
            return {"booking_date": None}
        if not free:
            dispatcher.utter_message(text=f"{day.month}月{day.day}日已经约满了，请换一天。")
            return {"booking_date": None}
        result: dict[str, Any] = {"booking_date": day.isoformat()}
        if iso and iso.group(2) and any(f"{s.start:%H:%M}" == iso.group(2) for s, _ in free):
            result["booking_time"] = iso.group(2)
        elif when is not None and window_of(when):
            result["booking_window"] = window_of(when)
            exact = exact_slot(free, when)
            named = exact or earliest_in_part(free, when, day)
            if named is not None:
                if exact is None:  # a part of the day: say which time was chosen
                    dispatcher.utter_message(text=chosen_note(named))
                result["booking_time"] = f"{named.start:%H:%M}"
        return {**result, **person_details(text, item, dispatcher)}  # "明天上午10点 王晓东 139…": who comes, said with the day

    def validate_booking_time(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        text = str(value or "")
        day = dt.date.fromisoformat(tracker.get_slot("booking_date"))
        item = tracker.get_slot("booking_item")
        free = with_session(lambda s: service.free_slots(db_session=s, schedule=current().schedule, item_name=item, day=day, now=now()))
        iso = _ISO.search(text)
        exact = _HHMM.match(text)
        when = parse_when(text, now())
        if iso and iso.group(2):
            wanted = [s for s, _ in free if f"{s.start:%H:%M}" == iso.group(2) and s.day.isoformat() == iso.group(1)]
        elif exact:
            wanted = [s for s, _ in free if f"{s.start:%H:%M}" == f"{int(exact.group(1)):02d}:{exact.group(2)}"]
        else:
            part = earliest_in_part(free, when, day) if when is not None else None  # "下午嘛": the hall's 13:30, as at the start
            wanted = [part] if part is not None else [s for s, _ in free if when is not None and When(
                dt.datetime.combine(day, when.start.time()), dt.datetime.combine(day, when.end.time()), True).covers(day, s.start)] if when else []
        picked = ORDINAL_RE.match(normalize(text)) if not wanted else None
        offered = [s for s, _ in offered_times(free, when_from(tracker, day), day)]  # as ActionAskBookingTime lists them
        if picked:  # "第一个" of the times offered
            wanted = offered[ORDINALS[picked.group(1)] - 1:ORDINALS[picked.group(1)]]
        if not wanted and AFFIRM.match(text.strip()):  # "对" to the offered times: the first one offered
            wanted = offered[:1]
        given = person_details(text, item, dispatcher)
        if not wanted and not given and when is None and answered_in_the_form(dispatcher, tracker, text):
            return {"booking_time": None}  # "那好久能拿到证" while the times wait: answered, then the times again
        if not wanted and not given and when is None and (name := plain_name(text)):
            given = {"booking_name": service.normalize_name(name)}  # "邓明亮" before choosing a time
        if not wanted and given:  # a name and mobile instead of a time: keep them, the time is asked again
            return {"booking_time": None, **given}
        if not wanted and (exact or iso or when is not None):  # a time said, and none free then
            alternatives = "、".join(f"{s.start:%H:%M}" for s in offered)
            dispatcher.utter_message(text=f"这个时间没有空位了，{day.month}月{day.day}日还可以约：{alternatives}。")
            return {"booking_time": None}
        if not wanted:  # no time said at all: the times are offered again (not "no seat then")
            return {"booking_time": None}
        return {"booking_time": f"{wanted[0].start:%H:%M}", **given}

    def validate_booking_name(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        text, item = str(value or ""), tracker.get_slot("booking_item")
        found = details_in(text, item, _day_of(tracker))
        if "booking_name" not in found and ("booking_time" in found or "booking_date" in found) and not _PHONE.search(text):
            found.pop("booking_phone", None)  # "九点半" instead of a name: the time is corrected, the name asked again
            return {**found, "booking_name": None}
        name = found.pop("booking_name", None) or re.sub(r"^(我叫|我是|姓名[:：]?)", "", _PHONE.sub("", text)).strip(" ，,、电话手机号:：")
        if not found and answered_in_the_form(dispatcher, tracker, text, "utter_ask_booking_name"):
            return {"booking_name": None}
        if not_a_name(name):  # "是的", "那要多久" are answers or questions, not names
            dispatcher.utter_message(text="请告诉我办事人的姓名，例如“张三”。")
            return {**person_details(text, item, dispatcher), "booking_name": None}
        when = {k: v for k, v in found.items() if k in ("booking_date", "booking_time", "booking_window") and v is not None}
        try:  # "九点半，胡建华，135…": the time said with the name moves the time chosen before
            return {**when, **person_details(text, item, dispatcher), "booking_name": service.normalize_name(name)}
        except service.BookingError as exc:
            dispatcher.utter_message(text=exc.reason)
            return {**person_details(text, item), "booking_name": None}  # "180…" where the name is asked: the phone kept

    def validate_booking_phone(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        text = str(value or "")
        phone = _PHONE.search(text)
        if phone is None and answered_in_the_form(dispatcher, tracker, text, "utter_ask_booking_phone"):
            return {"booking_phone": None}
        try:
            result = {"booking_phone": service.normalize_phone(phone_of(phone) if phone else re.sub(r"[^\d+]", "", text))}
        except service.BookingError as exc:
            dispatcher.utter_message(text=exc.reason)
            return {"booking_phone": None}
        return {**person_details(text, tracker.get_slot("booking_item"), dispatcher), **result}

    def validate_booking_id_number(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        if not re.search(r"\d", str(value or "")):  # "确认", "要得": the request for the number was missed, not a wrong number
            dispatcher.utter_message(text="这项业务预约还需要办事人的身份证号（18位），请直接输入号码；不方便提供的话，可以说“不约了”，"
                                          "直接到窗口办理。")
            return {"booking_id_number": None}
        typed = _ID_IN_TEXT.search(str(value or ""))  # "身份证号511126…": the number in the words
        try:
            return {"booking_id_number": service.normalize_id_number(typed.group(1) if typed else str(value or ""))}
        except service.BookingError as exc:
            dispatcher.utter_message(text=exc.reason)
            return {"booking_id_number": None}


def answered_in_the_form(dispatcher: CollectingDispatcher, tracker: Tracker, text: str, ask_again: str | None = None) -> bool:
    """A question asked while the form waits for a detail ("等一下 我先问下要带啥子材料" where the name is asked): answered
    about the item being booked, or about the item it names, then the form's question again (`ask_again`, a response
    of domain.yml: the form's own ask action sees this turn explained and says nothing more)."""
    asked = aspects_in(text)
    if text.startswith("/") or not asked or re.search(r"\d", text):
        return False
    hits = get_index().resolve(text).hits
    entry = hits[0].entry if names_an_item(hits) else get_index().kb.by_name(tracker.get_slot("booking_item") or "")
    if entry is None:
        return False
    if not names_an_item(hits) and opens_new_topic(entry, text):  # "先插一句，电动车上牌在哪里办": another thing, unknown
        not_found(dispatcher, text)
    else:
        say(dispatcher, answer(entry, asked[0], tuple(asked[1:])))
    if ask_again:
        dispatcher.utter_message(response=ask_again)
    return True


def explained_this_turn(tracker: Tracker, slot: str) -> bool:
    """Whether the citizen's last message answered the question for `slot` and its validation already replied in
    this turn (the reason and the question again, in one message)."""
    replied = False
    for n in range(len(tracker.events) - 1, -1, -1):
        event = tracker.events[n]
        if event.get("event") == "bot":
            replied = True
        elif event.get("event") == "user":
            asked = next((e.get("value") for e in reversed(tracker.events[:n])
                          if e.get("event") == "slot" and e.get("name") == "requested_slot"), None)
            return replied and asked == slot
    return False


class AskUnlessExplained(Action):
    """The form's question for a slot whose validation explains what was wrong ("请告诉我办事人的姓名（2到20个字…）"):
    after such a reply the question is not asked a second time in the same turn."""

    slot = ""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        if not explained_this_turn(tracker, self.slot):
            dispatcher.utter_message(response=f"utter_ask_{self.slot}")
        return []


BOOKING_OPTIONS = "您想预约办理{topic}方面的哪一项？请点选，也可以直接说事项名称："
REOFFER = "您想预约办理的是下面哪一项？请先选一项（点选或回复编号），您说的时间我记着："  # starts as BOOKING_OPTIONS does
_OPTIONS_LEAD = BOOKING_OPTIONS.split("{")[0]  # how every question offering items to book begins


def item_buttons(names: list[str]) -> list[dict[str, str]]:
    return [{"title": name, "payload": name} for name in names]


def said_while_the_item_was_asked(tracker: Tracker) -> list[str]:
    """The citizen's messages before this one, latest first, each answered with the item options, back to the one the
    first options answered ("预约补办社保卡 后天晚上6点行不行" → options → "那后天中午12点半嘛" → options → this one)."""
    said: list[str] = []
    users = [n for n, event in enumerate(tracker.events) if event.get("event") == "user"]
    events = tracker.events[:users[-1]] if users else []  # before this message
    options = False  # whether the assistant answered the next user message back (seen so far) with item options
    for event in reversed(events):
        if event.get("event") == "bot":
            options = options or (event.get("text") or "").startswith(_OPTIONS_LEAD)
        elif event.get("event") == "user":
            if not options:
                break
            said.append(event.get("text") or "")
            options = False
    return said


def offered_items(tracker: Tracker) -> list[str]:
    """The items action_ask_booking_item offered as buttons in its last question, in order (none if it did not)."""
    for event in reversed(tracker.events):
        if event.get("event") == "bot":
            if not (event.get("text") or "").startswith(_OPTIONS_LEAD):
                return []
            return [b.get("payload", "") for b in (event.get("data") or {}).get("buttons") or []]
    return []


class ActionAskBookingItem(Action):
    """Which item to book: for a topic ("想预约办个户口的事") its bookable items as options, else the plain question."""

    def name(self) -> str:
        return "action_ask_booking_item"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        topical = topic_entries(text_of(tracker))
        entries = [e for e in topical[1] if is_bookable(e)][:4] if topical else []
        if not topical or not entries:
            if not explained_this_turn(tracker, "booking_item"):
                dispatcher.utter_message(response="utter_ask_booking_item")
            return []
        lines = [BOOKING_OPTIONS.format(topic=topical[0]), *(f"{n}. {e.name}" for n, e in enumerate(entries, 1))]
        dispatcher.utter_message(text="\n".join(lines), buttons=item_buttons([e.name for e in entries]))
        return []


class ActionAskBookingName(AskUnlessExplained):
    slot = "booking_name"


class ActionAskBookingPhone(AskUnlessExplained):
    slot = "booking_phone"


class ActionAskBookingIdNumber(AskUnlessExplained):
    slot = "booking_id_number"


class ActionAskBookingDate(Action):
    """Ask which day, offering the next free slots (the "+X" ones included) as buttons."""

    def name(self) -> str:
        return "action_ask_booking_date"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        item = tracker.get_slot("booking_item")
        offers, reasons = with_session(lambda s: service.suggest(db_session=s, schedule=current().schedule, item_name=item,
                                                                  when=when_from(tracker), now=now()))
        if not offers:
            dispatcher.utter_message(text=f"抱歉，近{current().schedule.horizon_days}天“{item}”的预约都满了。" + "；".join(reasons)
                                     + "您可以直接到窗口办理，或拨打12345咨询。")
            return []
        dispatcher.utter_message(text=f"预约办理“{item}”。请问您想约哪天？最近可以约的时段有（含午间、傍晚、周六“5+X”延时服务）：",
                                 buttons=offer_buttons(offers))
        return []


def said_time(window: When) -> str:
    """A time asked for, as said back: "09:30" for a moment, "18:00-19:00" for an hour ("六点" is kept as 18:00-18:59)."""
    if window.end - window.start < dt.timedelta(minutes=1):
        return f"{window.start:%H:%M}"
    end = window.end + dt.timedelta(minutes=1) if window.end.minute == 59 else window.end
    return f"{window.start:%H:%M}-{end:%H:%M}"


class ActionAskBookingTime(Action):
    """Ask which time on the chosen day, offering that day's free slots."""

    def name(self) -> str:
        return "action_ask_booking_time"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        day = dt.date.fromisoformat(tracker.get_slot("booking_date"))
        item = tracker.get_slot("booking_item")
        free = with_session(lambda s: service.free_slots(db_session=s, schedule=current().schedule, item_name=item, day=day, now=now()))
        window = when_from(tracker, day)
        inside = [(s, n) for s, n in free if window is None or window.covers(day, s.start)]
        lead = f"{day.month}月{day.day}日可以约这些时段，请选一个："
        if tracker.get_slot("booking_name") or tracker.get_slot("booking_phone"):  # details given before the time
            lead = f"好的，您的信息已记下，还差预约时段：{day.month}月{day.day}日可以约这些时段，请选一个（也可以回复“第一个”）："
        if window is not None and not inside:  # "下周二傍晚" when that day has no free time then: say so, offer the rest
            lead = f"{day.month}月{day.day}日{said_time(window)}没有空位，当天可以约这些时段，请选一个："
            schedule = current().schedule
            group = schedule.group_for(item)
            if group is not None and not any(window.covers(day, s.start) for s in schedule.day_slots(group, day)):
                # "生育津贴 这周四傍晚": that window never opens for this item's counter (the evening "+X" hours are the
                # police and business counters' only); not a matter of seats
                lead = (f"“{item}”在{group.name}办理，{day.month}月{day.day}日{said_time(window)}"
                        f"不开放预约，当天可以约这些时段，请选一个：")
        dispatcher.utter_message(text=lead, buttons=offer_buttons(offered_times(free, window, day)))
        return []


def _day_of(tracker: Tracker) -> dt.date | None:
    value = tracker.get_slot("booking_date")
    try:  # inside the form's validation the slot may still hold the words given for the day, not yet a date
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


# the end of a mobile said again: "后头是2201，不是2210", "尾号改成2201", "最后四位是2201", "不是2210，是2201"
_TAIL = re.compile(r"(?:后头|后面|后边|尾号|尾数|最后[两三四五几]?位)(?:数字?)?(?:是|为|改成|应该是)?[：:\s]*(\d{2,5})(?!\d)|"
                   r"不是\d{2,5}[，,\s]*(?:是|而是|应该是)(\d{2,5})(?!\d)")


def phone_tail_fixed(text: str, phone: str | None) -> str | None:
    """The mobile with its last digits said again, when the result is a mobile; None when the message says none."""
    match = _TAIL.search(text) if phone else None
    if match is None or phone is None:
        return None
    tail = match.group(1) or match.group(2)
    fixed = phone[:-len(tail)] + tail
    return fixed if fixed != phone and _PHONE.fullmatch(fixed) else None


class ActionBookingChange(Action):
    """"不对，改到下周五下午" / "电话说错了，是139…" during the form or at the read-back: apply it and go on with the form,
    which asks what is still missing and reads the booking back again."""

    def name(self) -> str:
        return "action_booking_change"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = text_of(tracker)
        item = tracker.get_slot("booking_item")
        found = details_in(text, item, _day_of(tracker)) if item else {}
        if "booking_window" in found and "booking_time" not in found:
            found["booking_time"] = None  # another part of the day: ask which time in it
        kept = tracker.get_slot("booking_time")
        when = parse_when(text, now())
        if found.get("booking_date") and not found.get("booking_time") and kept and when is not None and when.whole_day:
            # "不对，是周五": another day, the time already chosen (when it is free that day)
            free = with_session(lambda s: service.free_slots(db_session=s, schedule=current().schedule, item_name=item,
                                                             day=dt.date.fromisoformat(found["booking_date"]), now=now()))
            if any(f"{slot.start:%H:%M}" == kept for slot, _ in free):
                found["booking_time"] = kept
                found.pop("booking_window", None)
        asked = tracker.get_slot("requested_slot")
        if not found and asked == "booking_name" and (name := plain_name(text)):  # "李德明" read as a change
            found = {"booking_name": service.normalize_name(name)}
        if not found and asked == "booking_phone" and (digits := re.sub(r"\D", "", text)) and _PHONE.fullmatch(digits):
            found = {"booking_phone": digits}  # "136 8812 3456"
        if not found and (fixed := phone_tail_fixed(text, tracker.get_slot("booking_phone"))):
            found = {"booking_phone": fixed}  # "电话说错了，后头是2201，不是2210"
        offered = offered_items(tracker) if asked == "booking_item" else []
        if not found and offered and parse_when(text, now()) is not None:  # "那下周四中午12点半嘛" while the items wait
            dispatcher.utter_message(text=REOFFER, buttons=item_buttons(offered))
        elif not found:
            dispatcher.utter_message(text="好的，请告诉我要改成什么：日期时间、姓名还是手机号？")
        events = [SlotSet(k, v) for k, v in found.items()] + [SlotSet("booking_request_id", None)]
        return events if tracker.active_loop_name else events + [FollowupAction("booking_form")]


_EXISTING = re.compile(r"预约码|码是|我的预约|约的|约好的|那个预约|已经约")


class ActionRouteChange(Action):
    """A change asked for with no booking in progress: an existing booking to move ("预约码…改到周四") goes to the
    look-up/reschedule form, anything else is a new booking with its time."""

    def name(self) -> str:
        return "action_route_change"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = text_of(tracker)
        if is_service_question("change_booking", text):  # "证件到期了换一个新的要多久": a question, not a change
            return answer_question(dispatcher, tracker) + [FollowupAction("action_listen")]
        existing = _CODE.search(text) or _EXISTING.search(text) or (  # "哦说错了，是151…" right after "not found"
            service.NOT_FOUND in last_said(tracker) and service.gives_a_code_or_mobile(text))
        # booked in this conversation and no other item named: "手机133…，改到下周二下午4点" moves that booking
        booked_here = tracker.get_slot("manage_code") and not tracker.active_loop_name and item_of(text) is None
        return [FollowupAction("action_start_manage" if existing or booked_here else "action_start_booking")]


# thanks with at most an "I see": the citizen is done ("晓得了 谢谢", "好的谢谢")
_THANKS_ONLY = re.compile(rf"^(?:(?:好的?|行|嗯+|要得|晓得了|知道了|明白了)[，,。 ]*)?(?:{THANKS_WORD})[你您哈啊了]*[。！!]*$")


def done_talking(text: str) -> bool:
    """A goodbye, "nothing more", or thanks with at most an "I see": the citizen is done."""
    return says_goodbye(text) or says_nothing_more(text) or bool(_THANKS_ONLY.match(text.strip()))


_GIVE_UP = re.compile(r"不约了|不要了|算了|取消|不用了|不办了|不预约|不想约|不去了|去不了|去不成")


class ActionBookingAbandon(Action):
    """Changed their mind: nothing is booked."""

    def name(self) -> str:
        return "action_booking_abandon"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = text_of(tracker)
        item = tracker.get_slot("booking_item")
        if item and not _GIVE_UP.search(text) and details_in(text, item, _day_of(tracker)):
            # "不对，是周五", "我妈叫田秀珍 电话打我的138…" read as no or as cancelling: a correction or the details asked for
            return [FollowupAction("action_booking_change")]
        if not item and asked_before(tracker) == "booking_item" and not _GIVE_UP.search(text) and not cancel_said(text):
            named, _ = bookable_item(text, None)  # "我从眉山嫁过来的 要把户口迁过来" where the item is asked, read as cancelling
            if named:
                return [SlotSet("booking_item", named), FollowupAction("booking_form")]
        name = plain_name(text) if item and asked_before(tracker) == "booking_name" and not _GIVE_UP.search(text) else None
        if name:  # "胡建平" where the name was asked, read as no: the name, and the form goes on
            with contextlib.suppress(service.BookingError):
                return [SlotSet("booking_name", service.normalize_name(name)), FollowupAction("booking_form")]
        dispatcher.utter_message(text="好的，这次没有为您预约。需要时随时说“我要预约”。")
        events: list[dict[str, Any]] = [SlotSet(n, None) for n in BOOKING_SLOTS]
        return events + goodbye_then_rating(dispatcher) if done_talking(text) else events


class ActionConfirmBooking(Action):
    """Read everything back before booking."""

    def name(self) -> str:
        return "action_confirm_booking"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        slot = tracker.get_slot
        day = dt.date.fromisoformat(slot("booking_date"))
        lines = [f"事项：{slot('booking_item')}", f"时间：{day.month}月{day.day}日 {slot('booking_time')}",
                 f"姓名：{slot('booking_name')}", f"手机：{mask(slot('booking_phone'))}"]
        if slot("booking_id_number"):
            lines.append(f"身份证号：{mask(slot('booking_id_number'))}")
        dispatcher.utter_message(text="请核对预约信息：\n" + "\n".join(lines) + "\n确认预约吗？",
                                 buttons=[{"title": "确认预约", "payload": "/affirm"}, {"title": "不约了", "payload": "/deny"}])
        return [SlotSet("booking_request_id", uuid.uuid4().hex)]


class ActionSubmitBooking(Action):
    """Confirmed: book once (a repeated confirmation books nothing more) and give the code and what to bring."""

    def name(self) -> str:
        return "action_submit_booking"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        slot = tracker.get_slot
        if not slot("booking_item") or not slot("booking_date") or not slot("booking_time"):
            dispatcher.utter_message(text="没有待确认的预约。需要预约请说“我要预约”。")
            return []
        schedule = current().schedule
        channel = (tracker.sender_id or "").split("-", 1)[0]

        def book(session: Session) -> Booking:
            return service.book(db_session=session, schedule=schedule, item_name=slot("booking_item"),
                                day=dt.date.fromisoformat(slot("booking_date")), start=slot("booking_time"),
                                name=slot("booking_name"), phone=slot("booking_phone"), id_number=slot("booking_id_number"),
                                channel=channel, conversation_id=tracker.sender_id, request_id=slot("booking_request_id"))
        try:
            booking = with_session(book)
        except (service.BookingError, DateNotBookable, CalendarUnknown) as exc:
            dispatcher.utter_message(text=getattr(exc, "reason", str(exc)) + "。请重新选择时间。")
            if isinstance(exc, service.SlotFull):  # back to the form to pick another time
                return [SlotSet("booking_date", None), SlotSet("booking_time", None), SlotSet("booking_request_id", None),
                        FollowupAction("booking_form")]
            return [SlotSet(n, None) for n in BOOKING_SLOTS]
        group = schedule.groups[booking.group_id]
        materials = materials_of(booking.item_name)
        text = (f"预约成功！预约码：{booking.code}\n{booking.day.month}月{booking.day.day}日 {booking.start}-{booking.end}，"
                f"{group.hall_name}{group.name}（{group.hall_address}），办理“{booking.item_name}”。")
        if materials:
            text += "\n请带齐材料：" + "、".join(materials) + "。"
        text += "\n前一天傍晚会短信提醒您。查询或取消请说“查询预约”或“取消预约”，并提供预约码和手机号。"
        dispatcher.utter_message(text=text)
        booked = get_index().kb.by_name(booking.item_name)  # "那天要带啥子去": the booked item is the one in context
        return [SlotSet(n, None) for n in BOOKING_SLOTS] + [SlotSet("manage_code", booking.code), SlotSet("manage_phone", booking.phone),
                                                             SlotSet("item", booked.id if booked else None), SlotSet("candidates", None)]


class ActionStartManage(Action):
    """Look up, cancel or reschedule: take the code and mobile from the message if given."""

    def name(self) -> str:
        return "action_start_manage"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = text_of(tracker)
        if is_service_question(latest_intent(tracker), text):  # "证件到期了换个新的要多久": a question, no booking named
            return answer_question(dispatcher, tracker) + [FollowupAction("action_listen")]
        if says_nothing_more(text):  # "改好了哈 没得事了": done, as a goodbye
            return goodbye_then_rating(dispatcher)
        op = manage_op(text)
        if op == "lookup" and service.books_in_words(text) and not about_a_booking(tracker, text):
            return [FollowupAction("action_start_booking")]  # "那帮我约一个吧" read as a cancellation: a new booking
        if op == "cancel" and not cancel_said(text):  # "周六去不成了" says why, not what: cancel or move it? (asked)
            op = "cancel_or_move"
        after_not_found = service.NOT_FOUND in last_said(tracker)
        if op == "lookup" and after_not_found:  # a correction after "not found": what was asked stays (a cancellation
            op = tracker.get_slot("manage_op") or op  # said in words is not asked again)
        if op == "lookup" and tracker.get_slot("booking_request_id") and not _CODE.search(text):
            # "我约的是哪天 再跟我说一遍" while the booking waits for a yes: nothing is booked yet, it is read back again
            dispatcher.utter_message(text="这个预约还没有确认，请再核对一下。")
            return [FollowupAction("action_confirm_booking")]
        if op == "reschedule" and tracker.get_slot("booking_request_id") and not _CODE.search(text):
            return [FollowupAction("action_booking_change")]  # "还是明天 改到中午嘛" at the read-back: a correction, nothing booked yet
        if op == "lookup" and only_details(text) and tracker.get_slot("manage_op") in ("cancel", "reschedule"):
            op = tracker.get_slot("manage_op")  # "预约取消，电话139…" then "预约码：VBFXHG": still the cancellation
        events = [SlotSet("manage_op", op)]
        target = next((e.get("value") for e in tracker.latest_message.get("entities") or [] if e.get("entity") == "manage_target"), None)
        if target:
            events[0] = SlotSet("manage_op", "reschedule")
        events.append(SlotSet("manage_target", target))
        shift = None if target else shift_days(text)
        when = None if target else parse_when(without_shift(text) if shift is not None else text, now())
        before = tracker.get_slot("manage_window") or ""
        if op == "lookup" and when is not None and picks_a_time_for_the_move(tracker, text):
            op = "reschedule"  # "下午那个", "那明天中午十二点嘛" to the times offered for the move
            events[0] = SlotSet("manage_op", op)
            if not when.day_given and before.endswith("|day"):  # on the day asked for before ("改到大后天", then "下午那个")
                day = dt.datetime.fromisoformat(before.split("|")[0]).date()
                when = When(dt.datetime.combine(day, when.start.time()), dt.datetime.combine(day, when.end.time()), True)
        # "|day" marks a day said; without it ("改成傍晚", "挪到下午三点") the time is on the booking's own day;
        # "|shift+N" a move by days from the booking's day ("往后推一天 还是中午": its time of day, or the booking's)
        typed = not text.startswith("/")  # a button payload carries no code or phone
        # "输错了，电话是135…" after "改到下周一中午十二点半，码…，电话…" was not found: the time asked for stays
        keeps_window = typed and after_not_found and shift is None and when is None and not target
        if shift is not None:
            times = f"{when.start.isoformat()}|{when.end.isoformat()}" if when is not None and not when.day_given else "|"
            events.append(SlotSet("manage_window", f"{times}|shift{shift:+d}"))
        elif not keeps_window:
            events.append(SlotSet("manage_window", f"{when.start.isoformat()}|{when.end.isoformat()}" + ("|day" if when.day_given else "")
                                  if when else None))
        code, phone = (_CODE.search(text), _PHONE.search(text)) if typed else (None, None)
        if typed and after_not_found:  # "搞错了 电话是138…": corrects one, the other as given before (the latest of
            # the citizen's last three messages: "码是MYZBVG", then "电话151…" not found, then "说错了，是151…")
            before = [t for t in (e.get("text") or "" for e in tracker.events if e.get("event") == "user")][-4:-1]
            code = code or next((m for t in reversed(before) if (m := _CODE.search(t))), None)
            phone = phone or next((m for t in reversed(before) if (m := _PHONE.search(t))), None)
        if code:
            events.append(SlotSet("manage_code", code.group(1).upper()))
        if phone:
            events.append(SlotSet("manage_phone", phone_of(phone)))
        return events + [FollowupAction("manage_form")]


class ValidateManageForm(FormValidationAction):
    def name(self) -> str:
        return "validate_manage_form"

    def validate_manage_code(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        found = _CODE.search(str(value or ""))
        if not found:
            dispatcher.utter_message(text="预约码是6位字母和数字（不含0、O、1、I），请再看一下预约成功时的消息。")
            return {"manage_code": None}
        return {"manage_code": found.group(1).upper()}

    def validate_manage_phone(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        try:
            return {"manage_phone": service.normalize_phone(re.sub(r"[^\d+]", "", str(value or "")))}
        except service.BookingError as exc:
            dispatcher.utter_message(text=exc.reason)
            return {"manage_phone": None}


def describe(booking: Booking) -> str:
    state = "已取消" if booking.status == "cancelled" else "有效"
    return f"预约码 {booking.code}（{state}）：{booking.day.month}月{booking.day.day}日 {booking.start}-{booking.end}，办理“{booking.item_name}”。"


def wanted_when(window: str | None, booking: Booking) -> When | None:
    """The time a move asks for, from the manage_window slot (action_start_manage): a day and time; a time alone, on
    the booking's day ("上午走不脱 挪到下午三点"); or a move by days from the booking's day, at the time of day said or
    at the booking's own time ("往后推一天")."""
    if not window:
        return None
    parts = window.split("|")
    if len(parts) == 3 and parts[2].startswith("shift"):
        day = booking.day + dt.timedelta(days=int(parts[2][len("shift"):]))
        if not parts[0]:
            at = dt.datetime.combine(day, dt.time.fromisoformat(booking.start))
            return When(at, at + dt.timedelta(minutes=1), True)
        return When(dt.datetime.combine(day, dt.datetime.fromisoformat(parts[0]).time()),
                    dt.datetime.combine(day, dt.datetime.fromisoformat(parts[1]).time()), True)
    start, end = (dt.datetime.fromisoformat(p) for p in parts[:2])
    if not window.endswith("|day"):
        start, end = dt.datetime.combine(booking.day, start.time()), dt.datetime.combine(booking.day, end.time())
    return When(start, end, True)


class ActionManageBooking(Action):
    """Do the look-up, cancellation or rescheduling once code and mobile are known."""

    def name(self) -> str:
        return "action_manage_booking"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        code, phone, op = tracker.get_slot("manage_code"), tracker.get_slot("manage_phone"), tracker.get_slot("manage_op")
        schedule = current().schedule
        try:
            if op == "cancel_or_move":
                booking = with_session(lambda s: service.lookup(db_session=s, code=code, phone=phone))
                if booking.status == "active":
                    dispatcher.utter_message(text=f"您的预约：{describe(booking)}要取消这个预约，还是改个时间？",
                                             buttons=[{"title": "取消预约", "payload": "取消预约"}, {"title": "改个时间", "payload": "改个时间"}])
                    return []
                op = "lookup"  # cancelled already: it is shown as it is
            if op == "cancel":
                booking = with_session(lambda s: service.cancel(db_session=s, code=code, phone=phone))
                dispatcher.utter_message(text="已为您取消预约，名额已释放。" + describe(booking))
                return []  # the code or mobile given again afterwards confirms the cancellation once more
            if op == "reschedule" and tracker.get_slot("manage_target"):
                day, start = tracker.get_slot("manage_target").split()
                booking = with_session(lambda s: service.reschedule(db_session=s, schedule=schedule, code=code, phone=phone,
                                                                    day=dt.date.fromisoformat(day), start=start))
                dispatcher.utter_message(text="改期成功，预约码不变。" + describe(booking))
                return [SlotSet("manage_target", None), SlotSet("manage_op", "lookup")]  # moved: the code again shows it
            booking = with_session(lambda s: service.lookup(db_session=s, code=code, phone=phone))
            if op == "reschedule":
                if booking.status != "active":
                    dispatcher.utter_message(text="这个预约已经取消了，不能改期。" + describe(booking))
                    return []
                when = wanted_when(tracker.get_slot("manage_window"), booking)
                offers, reasons = with_session(lambda s: service.suggest(db_session=s, schedule=schedule, item_name=booking.item_name,
                                                                          when=when, now=now()))
                named = exact_slot(offers, when) if when is not None and when.day_given else None
                earliest = None
                if named is None and when is not None and when.day_given and len(when.days) == 1:
                    earliest = named = earliest_in_part(offers, when, when.days[0])  # "改到下周三下午", as a booking does
                if named is not None and (named.day, f"{named.start:%H:%M}") == (booking.day, booking.start):
                    note_same = "您说的就是现在预约的时间。"  # "改到明天中午" when it is then: nothing to move, times offered
                    named = None
                else:
                    note_same = ""
                if named is not None:  # "改到下周二晚上六点": that slot at once
                    slot = named
                    moved = with_session(lambda s: service.reschedule(db_session=s, schedule=schedule, code=code, phone=phone,
                                                                      day=slot.day, start=f"{slot.start:%H:%M}"))
                    dispatcher.utter_message(text="改期成功，预约码不变。" + describe(moved) + (
                        MOVED_TO_EARLIEST + "，要换别的时间可以再告诉我。" if earliest is not None else ""))
                    return [SlotSet("manage_target", None), SlotSet("manage_window", None), SlotSet("manage_op", "lookup")]
                note = note_same + (("；".join(reasons) + "。") if reasons else "")
                buttons = [{"title": b["title"], "payload": '/cancel_appointment{"manage_target":"' + b["payload"] + '"}'}
                           for b in offer_buttons(offers)]
                dispatcher.utter_message(text=f"您现在的预约：{describe(booking)}{note}{MOVE_OFFERED}，请选一个：", buttons=buttons)
                return []
            before = last_said(tracker)
            # the code and mobile sent right after the move, as if it still needed them, or a look-up: the move is done
            just_moved = booking.status == "active" and "改期成功" in before and booking.code in before
            dispatcher.utter_message(text="为您查到：" + describe(booking) + ("刚才已改期成功，预约码不变。" if just_moved else ""))
            found = get_index().kb.by_name(booking.item_name)
            return [SlotSet("item", found.id), SlotSet("candidates", None)] if found else []
        except (service.BookingError, DateNotBookable, CalendarUnknown) as exc:
            if isinstance(exc, service.NotFound) and phone and (mine := own_booking(tracker.sender_id, phone)) is not None:
                # a code misremembered in the conversation that booked: its booking, with the right code
                again = {"cancel": "要取消请再说一次“取消预约”。", "reschedule": "要改期请再说一次想改到什么时候。"}.get(op, "")
                dispatcher.utter_message(text=f"这个预约码不对。您在这次对话中的预约是：{describe(mine)}{again}")
                return [SlotSet("manage_code", mine.code), SlotSet("manage_phone", mine.phone), SlotSet("manage_op", "lookup")]
            dispatcher.utter_message(text=getattr(exc, "reason", str(exc)) + "。")
            if isinstance(exc, service.NotFound):
                return [SlotSet("manage_code", None), SlotSet("manage_phone", None)]
        return []
