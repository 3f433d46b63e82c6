"""The ticket form's actions (actions/tickets.py) with tracker fixtures: the choice and what it carries, the description,
the phone and its tries, leaving, a message that is something else, a question asked too long ago, and filing through a
stand-in desk; and the agency form's (actions/agency.py): the village, the contact, and its start."""
import asyncio
from types import SimpleNamespace

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.agency import ActionStartAgency, ValidateAgencyForm
from actions.tickets import (
    NO_PHONE_GIVEN,
    ActionAskTicketDescription,
    ActionAskTicketKind,
    ActionFinishTicket,
    ValidateTicketForm,
    stale,
)
from bot import services
from bot.messages import Reply

FORM = ["ticket_kind", "ticket_description", "ticket_phone"]
DOMAIN = {"forms": {"ticket_form": {"required_slots": FORM}}}


def tracker(text, slots=None, intent="ask_item", asked="ticket_kind", said_at=1000.0, at=1010.0):
    events = [{"event": "slot", "name": "requested_slot", "value": asked},
              {"event": "bot", "text": "请问…", "timestamp": said_at},
              {"event": "user", "text": text, "timestamp": at, "parse_data": {"intent": {"name": intent}}}]
    values = {"requested_slot": asked, **(slots or {})}
    return Tracker("webchat-0123456789abcdef0123", values, {"text": text, "intent": {"name": intent, "confidence": 0.9},
                                                            "entities": []}, events, False, None, {"name": "ticket_form"},
                   "action_listen")


def validate(slot, text, **slots):
    dispatcher = CollectingDispatcher()
    found = getattr(ValidateTicketForm(), f"validate_{slot}")(text, dispatcher, tracker(text, slots, asked=slot), DOMAIN)
    return found, [m.get("text") for m in dispatcher.messages]


@pytest.mark.parametrize("text, expected", [
    ("留言", {"ticket_kind": "message"}), ("1", {"ticket_kind": "message"}), ("预约回电", {"ticket_kind": "callback"}),
    ("给我回个电话嘛", {"ticket_kind": "callback"}),
    ("那麻烦留个言，电话15908135678，姓陈", {"ticket_kind": "message", "ticket_phone": "15908135678"}),
    ("不用了", {"ticket_kind": None, "ticket_outcome": "cancelled"}), ("3", {"ticket_kind": None, "ticket_outcome": "cancelled"}),
    ("低保要什么材料", {"ticket_kind": None, "ticket_outcome": "something_else"}),
])
def test_the_choice_and_what_it_carries(text, expected):
    assert validate("ticket_kind", text)[0] == expected


def test_a_question_about_when_staff_answer_is_answered_and_the_choice_stays():
    found, said = validate("ticket_kind", "好久能打过来")
    assert found == {"ticket_kind": None} and "工作人员上班后" in said[0] and "留言，还是预约回电" in said[0]


def test_after_a_complaint_an_account_is_the_complaint_and_a_question_is_not():
    told = "昨天下午三点过，公安那个窗口，一个女的，冲我吼"
    assert validate("ticket_kind", told, ticket_reason="complaint")[0] == {"ticket_kind": "complaint", "ticket_description": told}
    assert validate("ticket_kind", "留言", ticket_reason="complaint")[0] == {"ticket_kind": "complaint"}
    elsewhere = {"ticket_kind": None, "ticket_outcome": "something_else"}
    assert validate("ticket_kind", "社保窗口几点下班？", ticket_reason="complaint")[0] == elsewhere
    assert validate("ticket_kind", told)[0] == elsewhere  # not after a complaint


def test_a_description_must_say_something():
    assert validate("ticket_description", "路灯") == ({"ticket_description": None}, ["内容有点少，请再具体说一说，方便工作人员处理（发送“取消”可退出）。"])
    assert validate("ticket_description", "我家门口的路灯坏了")[0] == {"ticket_description": "我家门口的路灯坏了"}
    assert validate("ticket_description", "算了")[0] == {"ticket_description": None, "ticket_outcome": "cancelled"}


def test_the_phone_its_tries_and_leaving_without_one():
    assert validate("ticket_phone", "电话是0833-5123456")[0] == {"ticket_phone": "0833-5123456"}
    assert validate("ticket_phone", "不留", ticket_kind="message")[0] == {"ticket_phone": NO_PHONE_GIVEN}
    found, said = validate("ticket_phone", "不留", ticket_kind="callback")  # a callback needs a phone
    assert found == {"ticket_phone": None, "ticket_tries": 1} and "号码好像不完整" in said[0]
    ended = {"ticket_phone": None}  # the answer is not kept as the phone
    assert validate("ticket_phone", "1381234", ticket_kind="callback", ticket_tries=2)[0] == {**ended, "ticket_outcome": "gave_up"}
    assert validate("ticket_phone", "谢谢，拜拜", ticket_kind="message")[0] == {**ended, "ticket_outcome": "left"}
    assert validate("ticket_phone", "取消", ticket_kind="message")[0] == {**ended, "ticket_outcome": "cancelled"}
    assert validate("ticket_phone", None, ticket_kind="message")[0] == {}  # a reset, not an answer


def test_an_answer_long_after_the_question_is_a_new_matter():
    assert stale(tracker("留言", said_at=1000.0, at=1000.0 + 31 * 60))
    assert not stale(tracker("留言", said_at=1000.0, at=1000.0 + 29 * 60))
    dispatcher = CollectingDispatcher()
    late = tracker("留言", said_at=1000.0, at=1000.0 + 31 * 60)
    assert ValidateTicketForm().validate_ticket_kind("留言", dispatcher, late, DOMAIN) == {"ticket_kind": None,
                                                                                         "ticket_outcome": "something_else"}


def test_the_choice_is_not_offered_twice_and_a_too_short_description_is_not_asked_twice():
    offered = tracker("转人工")
    offered.events.append({"event": "bot", "text": "现在不是在线人工客服的服务时间…"})
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionAskTicketKind().run(dispatcher, offered, DOMAIN))
    assert dispatcher.messages == []
    explained = tracker("路灯", {"ticket_kind": "message"}, asked="ticket_description")
    explained.events.append({"event": "bot", "text": "内容有点少…"})
    asyncio.run(ActionAskTicketDescription().run(dispatcher, explained, DOMAIN))
    assert dispatcher.messages == []
    asyncio.run(ActionAskTicketDescription().run(dispatcher, tracker("留言", {"ticket_kind": "message"}), DOMAIN))
    assert "用一两句话说明" in dispatcher.messages[0]["text"]


class StandInDesk:
    def __init__(self, fail=False):
        self.filed, self.fail = [], fail

    async def file_ticket(self, conversation_id, category, description, phone):
        if self.fail:
            raise RuntimeError("database down")
        self.filed.append((category, description, phone))
        return Reply(text="已为您登记工单，编号 GD2612030001（留言）。")


def finish(slots, desk, text="13812345678"):
    services.use(SimpleNamespace(desk=desk))
    try:
        dispatcher = CollectingDispatcher()
        events = asyncio.run(ActionFinishTicket().run(dispatcher, tracker(text, slots, asked=None), DOMAIN))
        return [m.get("text") or m.get("response") for m in dispatcher.messages], events
    finally:
        services.use(None)


def test_finishing_files_says_why_not_or_keeps_what_was_told_when_the_citizen_leaves():
    desk = StandInDesk()
    said, events = finish({"ticket_kind": "message", "ticket_description": "路灯坏了一个月", "ticket_phone": NO_PHONE_GIVEN}, desk)
    assert desk.filed == [("message", "路灯坏了一个月", "")] and "GD2612030001" in said[0]
    assert {e["name"] for e in events if e["event"] == "slot"} >= set(FORM) and all(
        e["value"] is None for e in events if e["event"] == "slot")
    said, events = finish({"ticket_kind": "complaint", "ticket_description": "冲我吼", "ticket_outcome": "left"}, desk, "拜拜")
    assert desk.filed[-1] == ("complaint", "冲我吼", "") and said[1:] == ["utter_goodbye"]
    assert events[-1]["event"] == "followup" and events[-1]["name"] == "action_offer_rating"  # the rating form follows
    said, _ = finish({"ticket_kind": "callback", "ticket_description": "养老保险", "ticket_outcome": "left"}, desk, "拜拜")
    assert len(desk.filed) == 2 and "回电登记先取消了" in said[0]
    said, _ = finish({"ticket_outcome": "cancelled"}, desk)
    assert said == ["好的，已取消。还有什么需要帮忙的，请直接告诉我。"]


def test_a_failure_to_file_is_told_with_the_hotline():
    said, _ = finish({"ticket_kind": "message", "ticket_description": "路灯坏了", "ticket_phone": "13812345678"}, StandInDesk(fail=True))
    assert "没能登记成功" in said[0] and "12345" in said[0]


# --- 代办: agency_form (actions/agency.py) -------------------------------------------------------------------------

def validate_agency(slot, text, **slots):
    dispatcher = CollectingDispatcher()
    t = tracker(text, {"agency_item": "minimum-living-allowance", **slots}, asked=slot)
    found = getattr(ValidateAgencyForm(), f"validate_{slot}")(text, dispatcher, t, DOMAIN)
    return found, [m.get("text") for m in dispatcher.messages]


def test_the_agency_form_takes_a_village_and_a_phone_with_a_name():
    assert validate_agency("agency_village", "甘江镇新华村三组")[0] == {"agency_village": "甘江镇新华村三组"}
    found, said = validate_agency("agency_village", "甘")
    assert found == {"agency_village": None} and "“最低生活保障”可以申请代办帮办" in said[0]
    assert validate_agency("agency_village", "算了")[0] == {"agency_village": None, "agency_outcome": "cancelled"}
    assert validate_agency("agency_contact", "李秀英 13912345678")[0] == {"agency_contact": "13912345678", "agency_name": "李秀英"}
    found, said = validate_agency("agency_contact", "李秀英 1391234")
    assert found == {"agency_contact": None, "agency_tries": 1} and "号码好像不完整" in said[0]
    assert validate_agency("agency_contact", "1391234", agency_tries=2)[0] == {"agency_contact": None, "agency_outcome": "gave_up"}
    assert validate_agency("agency_village", None)[0] == {}


def test_the_agency_form_starts_only_for_an_item_sent_by_the_desk():
    t = tracker('/request_agency{"agency_item": "minimum-living-allowance"}', intent="request_agency", asked=None)
    t.latest_message["entities"] = [{"entity": "agency_item", "value": "minimum-living-allowance"}]
    events = asyncio.run(ActionStartAgency().run(CollectingDispatcher(), t, DOMAIN))
    assert {"event": "slot", "timestamp": None, "name": "agency_item", "value": "minimum-living-allowance"} in events
    assert events[-1]["name"] == "agency_form"
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionStartAgency().run(dispatcher, tracker("/request_agency", intent="request_agency"), DOMAIN))
    assert "可以代办帮办的事项" in dispatcher.messages[0]["text"] and events[-1]["name"] == "action_listen"


def test_a_phone_given_at_the_choice_is_a_callback():
    found, _ = validate("ticket_kind", "我电话是13912345678 下午都在")
    assert found == {"ticket_kind": "callback", "ticket_phone": "13912345678"}


def test_thanks_where_the_matter_is_asked_files_what_was_told_before_the_offer():
    # "我妈的养老金这个月没到账 帮我转人工查一下", the offer, a phone at the choice, then "好的谢谢 就这样": the callback is filed
    # about the first message, and the citizen is said goodbye to (the rating follows)
    told = "我在外地 我妈的养老金这个月没到账 帮我转人工查一下"
    t = tracker("好的谢谢 就这样", {"ticket_kind": "callback", "ticket_phone": "13890611274"}, asked="ticket_description")
    t.events[:0] = [{"event": "user", "text": told}, {"event": "slot", "name": "ticket_offered", "value": True}]
    found = ValidateTicketForm().validate_ticket_description("好的谢谢 就这样", CollectingDispatcher(), t, DOMAIN)
    assert found == {"ticket_description": told, "ticket_outcome": "left"}
    t.events[0] = {"event": "user", "text": "那你帮我转个人工嘛"}  # only the request: nothing told, nothing kept
    found = ValidateTicketForm().validate_ticket_description("谢谢哈", CollectingDispatcher(), t, DOMAIN)
    assert found == {"ticket_description": None, "ticket_outcome": "left"}
    desk = StandInDesk()
    said, events = finish({"ticket_kind": "callback", "ticket_phone": "13890611274", "ticket_outcome": "left"}, desk, "谢谢哈")
    assert desk.filed == [("callback", "市民未说明具体事项，请回电时询问（对话记录见本会话）。", "13890611274")]
    assert said[1:] == ["utter_goodbye"] and events[-1]["name"] == "action_offer_rating"
    said, _ = finish({"ticket_kind": "message", "ticket_outcome": "left"}, desk, "谢谢哈")  # a message with nothing in it
    assert len(desk.filed) == 1 and said == ["好的，这次没有登记留言。需要时请再说“留言”，或直接拨打12345热线。", "utter_goodbye"]


def test_thanks_at_the_choice_ends_the_conversation_with_the_rating():
    services.use(SimpleNamespace(desk=StandInDesk()))
    try:
        dispatcher = CollectingDispatcher()
        t = tracker("行 谢谢了", {"ticket_outcome": "something_else"}, intent="thanks", asked=None)
        events = asyncio.run(ActionFinishTicket().run(dispatcher, t, DOMAIN))
    finally:
        services.use(None)
    assert [m.get("response") for m in dispatcher.messages] == ["utter_goodbye"]
    assert events[-1]["event"] == "followup" and events[-1]["name"] == "action_offer_rating"
