"""Leaving a message or asking for a callback when no operator can take the conversation (off duty, or nobody at a
desk): Rasa's ticket_form. The escalation offers 留言 / 预约回电 / 不用了 (actions/desk.py escalate) and starts the form;
it takes the choice, what the work order is about and a phone, then action_finish_ticket files the work order through
the handoff desk. A message that is something else ends the form and is answered as it would have been without it."""
from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.appeals import closes
from actions.booking import ActionRouteChange, ActionStartBooking, ActionStartManage, explained_this_turn
from actions.chitchat import ActionAcknowledge, ActionGoodbye, ActionSmallTalk
from actions.desk import PERSON, TICKET_SLOTS, WANTS_STAFF, goodbye_then_rating, utter
from actions.guides import ActionAnswerGuide, ActionChooseItem, ActionFallbackSearch, latest_intent
from actions.service_question import says_nothing_more
from bot.handoff import texts
from bot.handoff.desk import CANCEL, phone_in
from bot.services import current
from knowledge.county import county

logger = logging.getLogger(__name__)

NO_CHOICE = re.compile(r"^(3|３)$")
NO_PHONE = re.compile(r"^(不留|不想留|不方便留|不用留|没有电话|没电话)")
MESSAGE_CHOICE = re.compile(r"^(1|１|留言|我要留言|留言投诉|留个言)[。！!.\s]*$")
CALLBACK_CHOICE = re.compile(r"^(2|２|预约回电|回电|请回电|给我回电话?|打电话给我)[。！!.\s]*$")
# The choice said in a sentence, with or without more ("那麻烦留个言，电话159…，姓陈"; "给我回个电话嘛").
MESSAGE_WORDS = re.compile(r"留.{0,2}言|留言投诉|我要投诉")
CALLBACK_WORDS = re.compile(r"回.{0,2}电话?|打.{0,2}电话给我|给我打.{0,2}电话")
# A question rather than an account of what happened (after a complaint offer, an account is the complaint itself).
QUESTION = re.compile(r"[？?]|吗|怎么|咋|如何|多久|多少|哪[里儿个些]|什么|啥|能不能|可不可以|可以.{0,6}不|要不要|是不是|有没有")
# "好久能打过来", "留了言什么时候回复": when staff answer, asked while the choice waits
WHEN_ANSWERED = re.compile(r"(好久|多久|多长时间|什么时候|啥时候|几时|哪天|几点).{0,6}(打|回|联系|答复|回复|处理|来电)|"
                           r"(打|回)(过来|电话).{0,4}(好久|多久|什么时候|啥时候)")
LEAVING = re.compile(r"再见|拜拜|就这样|就这些|没有了|不用了谢谢|先这样")

# the words around a request for a person ("那你帮我转个人工嘛"): what is left beyond them is the matter, if long enough
_REQUEST_FILLER = re.compile(r"^(那|请|麻烦|你|您|帮我|给我|我要|我想)+|(一下|嘛|吧|哈|好不好|可以不)+$")
MATTER_MIN_CHARS = 6
OPEN_MINUTES = 30  # how long a form's question stays open: a later message is a new matter (stale)
NO_PHONE_GIVEN = "不留"  # ticket_phone when the citizen leaves a message without a phone (the answer comes here)
# How the form ends (ticket_outcome); without one it ends with everything filled and the work order is filed.
CANCELLED, SOMETHING_ELSE, GAVE_UP, LEFT = "cancelled", "something_else", "gave_up", "left"


def _text(value: Any) -> str:
    return str(value or "").strip()


def _category(tracker: Tracker) -> str:
    return tracker.get_slot("ticket_kind") or "message"


def stale(tracker: Tracker) -> bool:
    """The question was asked longer ago than the app keeps its questions open: the new message is a new matter."""
    user = next((e for e in reversed(tracker.events) if e.get("event") == "user"), None)
    bot = next((e for e in reversed(tracker.events) if e.get("event") == "bot" and (user is None or e.get("timestamp", 0)
                                                                                  < user.get("timestamp", 0))), None)
    if user is None or bot is None:
        return False
    return dt.timedelta(seconds=user.get("timestamp", 0) - bot.get("timestamp", 0)) > dt.timedelta(minutes=OPEN_MINUTES)


def ended(outcome: str, slot: str) -> dict[str, Any]:
    """The form ends with `outcome`; the answer to `slot` is not kept as its value."""
    return {slot: None, "ticket_outcome": outcome}


class ValidateTicketForm(FormValidationAction):
    """The choice (which may carry the phone, or be the complaint itself), the description, the phone; 取消 or a goodbye
    ends it; a message that answers none of these ends it too and is answered as usual (action_finish_ticket)."""

    def name(self) -> str:
        return "validate_ticket_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: dict[str, Any]) -> list[str]:
        return [] if tracker.get_slot("ticket_outcome") else domain_slots

    def validate_ticket_kind(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: dict[str, Any]) -> dict[str, Any]:
        if value is None:  # a reset, not an answer
            return {}
        text = _text(value)
        if stale(tracker):
            return ended(SOMETHING_ELSE, "ticket_kind")
        if CANCEL.match(text) or NO_CHOICE.match(text) or text.startswith("/deny"):
            return ended(CANCELLED, "ticket_kind")
        phone = phone_in(text)  # said with the choice: not asked again
        given = {"ticket_phone": phone} if phone else {}
        complaint = tracker.get_slot("ticket_reason") == "complaint"
        if MESSAGE_CHOICE.match(text) or MESSAGE_WORDS.search(text):
            return {"ticket_kind": "complaint" if complaint or "投诉" in text else "message", **given}
        if CALLBACK_CHOICE.match(text) or CALLBACK_WORDS.search(text):
            return {"ticket_kind": "callback", **given}
        if phone and not complaint:  # "我电话是139… 下午都在": the number to call back
            return {"ticket_kind": "callback", **given}
        if complaint and len(text) >= 6 and not text.startswith("/") and not QUESTION.search(text) and not LEAVING.search(text):
            # "昨天下午三点过，公安那个窗口，一个女的，冲我吼": the citizen goes on telling what happened
            return {"ticket_kind": "complaint", "ticket_description": text}
        if WHEN_ANSWERED.search(text):  # a question about the offer itself: answered, and the choice stays open
            utter(dispatcher, [texts.when_answered()])
            return {"ticket_kind": None}
        return ended(SOMETHING_ELSE, "ticket_kind")

    def validate_ticket_description(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: dict[str, Any]) -> dict[str, Any]:
        if value is None:  # a reset, not an answer
            return {}
        text = _text(value)
        if CANCEL.match(text) or text.startswith("/deny"):
            return ended(CANCELLED, "ticket_description")
        if stale(tracker):
            return ended(SOMETHING_ELSE, "ticket_description")
        if closes(text) or says_nothing_more(text):  # "好的谢谢 就这样": done; what was told before the offer is the matter
            return {"ticket_description": matter_told(tracker), "ticket_outcome": LEFT}
        if len(text) < 4 or text.startswith("/"):
            utter(dispatcher, [texts.too_short()])
            return {"ticket_description": None}
        return {"ticket_description": text}

    def validate_ticket_phone(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: dict[str, Any]) -> dict[str, Any]:
        if value is None:  # a reset, not an answer
            return {}
        text = _text(value)
        callback = _category(tracker) == "callback"
        if (CANCEL.match(text) or text.startswith("/deny")) and not NO_PHONE.match(text):  # "不留" answers the question
            return ended(CANCELLED, "ticket_phone")
        if stale(tracker):
            return ended(SOMETHING_ELSE, "ticket_phone")
        phone = phone_in(text)
        if phone is not None:
            return {"ticket_phone": phone}
        if LEAVING.search(text):  # the citizen leaves: what they told is kept (a callback without a phone cannot be)
            return ended(LEFT, "ticket_phone")
        if not callback and NO_PHONE.match(text):
            return {"ticket_phone": NO_PHONE_GIVEN}
        tries = int(tracker.get_slot("ticket_tries") or 0) + 1
        if tries >= 3:
            return ended(GAVE_UP, "ticket_phone")
        utter(dispatcher, [texts.bad_phone()])
        return {"ticket_phone": None, "ticket_tries": tries}


def matter_told(tracker: Tracker) -> str | None:
    """What the citizen said they needed in the message that asked for a person ("我妈的养老金这个月没到账 帮我转人工查一下"),
    when it says more than the request itself; None otherwise."""
    offered = max((n for n, e in enumerate(tracker.events)
                   if e.get("event") == "slot" and e.get("name") == "ticket_offered" and e.get("value")), default=None)
    asked = [e.get("text") or "" for e in tracker.events[:offered] if e.get("event") == "user"] if offered is not None else []
    if not asked or asked[-1].startswith("/"):
        return None
    rest = _REQUEST_FILLER.sub("", re.sub(r"[^\u4e00-\u9fa5]", "", PERSON.sub("", WANTS_STAFF.sub("", asked[-1]))))
    return asked[-1] if len(rest) >= MATTER_MIN_CHARS else None


def said_this_turn(tracker: Tracker) -> bool:
    """Whether something was said since the citizen's latest message (the offer, or a validation's reason)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "bot":
            return True
    return False


class ActionAskTicketKind(Action):
    """The choice: the escalation has just offered it with its buttons; asked again only if it has not."""

    def name(self) -> str:
        return "action_ask_ticket_kind"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        if not said_this_turn(tracker):
            utter(dispatcher, [texts.ticket_choice()])
        return []


class ActionAskTicketDescription(Action):
    def name(self) -> str:
        return "action_ask_ticket_description"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        if not explained_this_turn(tracker, "ticket_description"):  # "内容有点少…" already asks again
            utter(dispatcher, [texts.ask_description(_category(tracker))])
        return []


class ActionAskTicketPhone(Action):
    def name(self) -> str:
        return "action_ask_ticket_phone"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        if not explained_this_turn(tracker, "ticket_phone"):  # "这个号码好像不完整…" already asks again
            utter(dispatcher, [texts.ask_contact(_category(tracker))])
        return []


# What the rules (nlu_data/rules.yml) do with a message by its intent, for a message that ended the form.
_AS_USUAL: dict[str, tuple[Action, ...]] = {
    **{intent: (ActionAnswerGuide(),) for intent in ("ask_materials", "ask_procedure", "ask_time_limit", "ask_fee",
                                                     "ask_location_hours", "ask_online", "ask_visits", "ask_item")},
    "choose_item": (ActionChooseItem(),),
    "nlu_fallback": (ActionFallbackSearch(),),
    "greet": (ActionSmallTalk(),), "chitchat": (ActionSmallTalk(),), "out_of_scope": (ActionSmallTalk(),),
    "book_appointment": (ActionStartBooking(),),
    "cancel_appointment": (ActionStartManage(),),
    "change_booking": (ActionRouteChange(),),
    **{intent: (ActionAcknowledge(),) for intent in ("thanks", "affirm", "deny")},  # "行 谢谢了": the goodbye and the rating
}

_FOLLOW = {"complain": "action_start_appeal", "request_human": "action_request_human", "rate_service": "action_offer_rating"}


async def answer_as_usual(dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
    """Answer the message that ended the form the way the rules answer its intent."""
    intent = latest_intent(tracker) or "nlu_fallback"
    if intent in _FOLLOW:  # actions whose own rules go on (a form, a goodbye's rating): run next, by Rasa
        return [FollowupAction(_FOLLOW[intent])]
    if intent == "goodbye":
        said = await ActionGoodbye().run(dispatcher, tracker, domain)
        if not said:  # said goodbye: the rating invitation follows, as in the goodbye rule
            return [FollowupAction("action_offer_rating")]
        return said
    events: list[dict[str, Any]] = []
    for action in _AS_USUAL.get(intent, (ActionFallbackSearch(),)):
        events += await action.run(dispatcher, tracker, domain)
    if not any(e.get("event") == "followup" for e in events):
        events.append(FollowupAction("action_listen"))
    return events


class ActionFinishTicket(Action):
    """File the work order (its number is stored before the citizen hears it), or say why nothing was filed, or
    answer the message that ended the form. The form's slots are reset in every case."""

    def name(self) -> str:
        return "action_finish_ticket"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        slot = tracker.get_slot
        reset = [SlotSet(name, None) for name in TICKET_SLOTS]
        outcome, category = slot("ticket_outcome"), _category(tracker)
        if outcome == SOMETHING_ELSE:
            return reset + await answer_as_usual(dispatcher, tracker, domain)
        if outcome == CANCELLED:
            utter(dispatcher, [texts.cancelled()])
            return reset
        if outcome == GAVE_UP:
            utter(dispatcher, [texts.gave_up()])
            return reset
        if outcome == LEFT and category == "callback" and not slot("ticket_phone"):
            utter(dispatcher, [texts.callback_dropped()])
            return reset + goodbye_then_rating(dispatcher)
        if outcome == LEFT and category != "callback" and not slot("ticket_description"):  # a message with nothing in it
            utter(dispatcher, [texts.nothing_left()])
            return reset + goodbye_then_rating(dispatcher)
        phone = slot("ticket_phone") or ""
        try:
            created = await current().desk.file_ticket(tracker.sender_id, category,
                                                       slot("ticket_description") or texts.MATTER_NOT_SAID,
                                                       "" if phone == NO_PHONE_GIVEN else phone)
        except Exception:  # noqa: BLE001  (whatever failed, the citizen is told and the hotline still takes it)
            logger.exception("work order could not be filed in conversation %s", tracker.sender_id)
            dispatcher.utter_message(text=f"抱歉，工单暂时没能登记成功，给您添麻烦了。请拨打{county()['热线']}热线，"
                                          "工作人员会为您登记。")
            return reset
        utter(dispatcher, [created])
        if outcome == LEFT:
            return reset + goodbye_then_rating(dispatcher)
        return reset
