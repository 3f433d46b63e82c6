"""Actions with tracker fixtures and CollectingDispatcher (as in RasaHQ's demos)."""
import asyncio
from types import SimpleNamespace

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.booking import name_in, person_details
from actions.desk import says_goodbye
from actions.guides import ActionAnswerGuide, ActionChooseItem, ActionFallbackSearch
from actions.handoff import ActionRequestHuman
from bot import services
from bot.handoff.desk import Escalation
from bot.messages import Reply
from knowledge.service import get_index


def tracker(text, intent, slots=None, entities=None, past_intents=()):
    events = [{"event": "user", "parse_data": {"intent": {"name": i}}} for i in past_intents]
    events.append({"event": "user", "parse_data": {"intent": {"name": intent}}})
    return Tracker(
        "test", slots or {}, {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or []},
        events, False, None, {}, "action_listen",
    )


def run(action, t):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def item_id(name):
    return get_index().kb.by_name(name).id


@pytest.mark.parametrize(
    "text, intent, item, expect",
    [
        ("身份证丢了要带什么去补办", "ask_materials", "居民身份证办理（包括临时）", "需要准备以下材料"),
        ("开个体户要跑几次", "ask_visits", "个体工商户设立登记", "现场"),
        ("个体户营业执照要多久办好", "ask_time_limit", "个体工商户设立登记", "办结时限"),
        ("办身份证要钱不", "ask_fee", "居民身份证办理（包括临时）", "收费"),
    ],
)
def test_answer_names_the_item_and_keeps_it(text, intent, item, expect):
    messages, slots = run(ActionAnswerGuide(), tracker(text, intent))
    assert item in messages[0]["text"] and expect in messages[0]["text"]
    assert slots["item"] == item_id(item)


def test_follow_up_keeps_the_item():
    current = item_id("个体工商户设立登记")
    messages, slots = run(ActionAnswerGuide(), tracker("那要多久?", "ask_time_limit", {"item": current}))
    assert "个体工商户设立登记" in messages[0]["text"] and "办结时限" in messages[0]["text"]
    assert slots["item"] == current


def test_vague_question_asks_with_buttons_and_choice_answers():
    messages, slots = run(ActionAnswerGuide(), tracker("办证", "ask_item"))
    assert len(messages[0]["buttons"]) >= 2 and slots["candidates"]
    candidates = slots["candidates"]
    messages, slots = run(ActionChooseItem(), tracker("第二个", "choose_item", {"candidates": candidates, "aspect": "item"}))
    assert slots["item"] == candidates[1]
    assert get_index().kb.by_id(candidates[1]).name in messages[0]["text"]


def test_button_payload_choice():
    target = item_id("出生登记")
    messages, slots = run(
        ActionChooseItem(), tracker("/choose_item", "choose_item", {"aspect": "fee"}, [{"entity": "item_id", "value": target}])
    )
    assert "出生登记" in messages[0]["text"] and slots["item"] == target


def test_unknown_item_is_said_not_invented():
    messages, slots = run(ActionAnswerGuide(), tracker("火星移民签证要带什么材料", "ask_materials"))
    assert "没有找到" in messages[0]["text"] and "12345" in messages[0]["text"]
    assert "item" not in slots


class StubDesk:
    """The app's handoff desk as the actions see it (its own behaviour is tested in tests/handoff)."""

    def __init__(self):
        self.calls = []
        self.offline = False

    async def escalate(self, conversation_id, reason):
        self.calls.append(("escalate", conversation_id, reason))
        if self.offline:
            return Escalation([Reply(text="现在不是在线人工客服的服务时间。您可以：1. 留言 2. 预约回电")], offline=True)
        return Escalation([Reply(text="正在为您转接人工客服，当前排在第1位。", action="handoff")])


@pytest.fixture
def desk():
    stub = StubDesk()
    services.use(SimpleNamespace(desk=stub))  # the one accessor actions use, pointed at a stub desk
    yield stub
    services.use(None)


def test_two_fallbacks_in_a_row_reach_a_person(desk):
    messages, _ = run(ActionFallbackSearch(), tracker("嗯嗯嗯呃", "nlu_fallback", past_intents=["nlu_fallback"]))
    assert desk.calls == [("escalate", "test", "fallback")]
    assert [m["text"] for m in messages] == ["正在为您转接人工客服，当前排在第1位。", None]
    assert messages[1]["custom"] == {"action": "handoff"}


@pytest.mark.parametrize("intent, reason", [("request_human", "asked"), ("complain", "complaint")])
def test_asking_for_a_person_or_complaining_escalates(desk, intent, reason):
    messages, _ = run(ActionRequestHuman(), tracker("我要投诉" if intent == "complain" else "转人工", intent))
    assert desk.calls == [("escalate", "test", reason)]
    assert "当前排在第1位" in messages[0]["text"] and messages[1]["custom"] == {"action": "handoff"}


def test_off_duty_the_offer_starts_the_ticket_form_and_a_reason_sent_by_the_desk_is_kept(desk):
    desk.offline = True
    t = tracker('/request_human{"handoff_reason": "sensitive"}', "request_human")
    t.latest_message["entities"] = [{"entity": "handoff_reason", "value": "sensitive"}]
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionRequestHuman().run(dispatcher, t, {}))
    assert desk.calls == [("escalate", "test", "sensitive")] and "留言" in dispatcher.messages[0]["text"]
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots["ticket_offered"] is True and slots["ticket_reason"] == "sensitive"
    assert events[-1]["event"] == "followup" and events[-1]["name"] == "ticket_form"


def test_without_the_desk_the_hotline_is_given():
    messages, _ = run(ActionRequestHuman(), tracker("转人工", "request_human"))
    assert "12345" in messages[0]["text"] and messages[1]["custom"] == {"action": "handoff"}


def form_tracker(events):
    return Tracker("test", {}, {"text": "1"}, events, False, None, {"name": "booking_form"}, "validate_booking_form")


@pytest.mark.parametrize("events, asks", [
    # the name was asked, "1" came, the validation explained and asked again: nothing more
    ([{"event": "slot", "name": "requested_slot", "value": "booking_name"}, {"event": "bot", "text": "请问办事人的姓名？"},
      {"event": "user", "text": "1"}, {"event": "bot", "text": "请告诉我办事人的姓名（2到20个字，不含数字）"}], False),
    # the name was asked and given: the next question is asked
    ([{"event": "slot", "name": "requested_slot", "value": "booking_name"}, {"event": "user", "text": "王小明"},
      {"event": "slot", "name": "booking_name", "value": "王小明"}], True),
    # a slot chosen with a confirmation in the same turn: the name is still asked
    ([{"event": "slot", "name": "requested_slot", "value": "booking_time"}, {"event": "user", "text": "1"},
      {"event": "bot", "text": "已选 9:00"}], True),
])
def test_the_name_is_asked_once_per_turn(events, asks):
    from actions.booking import ActionAskBookingName

    dispatcher = CollectingDispatcher()
    asyncio.run(ActionAskBookingName().run(dispatcher, form_tracker(events), {}))
    assert [m.get("response") for m in dispatcher.messages] == (["utter_ask_booking_name"] if asks else [])


def test_a_choice_with_nothing_offered_that_names_an_item_is_answered():
    # "第一次" reads like "第一个" to the classifier; no options were offered, so it is a question
    messages, slots = run(ActionChooseItem(), tracker("娃娃的出生医学证明第一次办要哪些东西", "choose_item"))
    assert messages[0]["text"].startswith("【《出生医学证明》首次签发】") and slots["item"] == item_id("《出生医学证明》首次签发")


@pytest.mark.parametrize("text, follow", [
    ("那个预约我不去了", "action_start_manage"),  # the booking made: cancelled or moved, its code asked if needed
    ("码FGGAS2，手机15823456710", "action_start_manage"),
    ("下周三晚上六点约个办个体户营业执照，名字张小燕，手机17723459876", "action_start_booking"),
    ("我是外地的在夹江上班，办居住证能约不", "action_start_booking"),  # whether it can be booked: the form says
])
def test_a_message_the_classifier_missed_about_a_booking_goes_to_the_booking_flows(text, follow):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionFallbackSearch().run(dispatcher, tracker(text, "nlu_fallback"), {}))
    assert dispatcher.messages == [] and events == [{"event": "followup", "name": follow, "timestamp": None}]
    if follow == "action_start_manage" and "码" in text:  # also when the classifier read it as a question
        events = asyncio.run(ActionAnswerGuide().run(dispatcher, tracker(text, "ask_item"), {}))
        assert events[0]["name"] == follow


@pytest.mark.parametrize("text, before, op", [
    ("预约码：RHWN9Q", "cancel", "cancel"),  # the code given after asking to cancel: still the cancellation
    ("预约码：RHWN9Q", None, "lookup"), ("帮我查下预约码RHWN9Q", "cancel", "lookup"),
    ("预约码RHWN9Q，那天去不成了", None, "cancel_or_move"), ("预约码RHWN9Q，取消", None, "cancel"),
])
def test_what_the_manage_form_is_started_for(text, before, op):
    from actions.booking import ActionStartManage

    _, slots = run(ActionStartManage(), tracker(text, "cancel_appointment", {"manage_op": before}))
    assert slots["manage_op"] == op


def test_a_mobile_corrected_after_not_found_keeps_the_time_asked_for():
    """"改到下周一中午十二点半，码…，电话(wrong)" was not found; "输错了，电话是…" moves the booking to that time."""
    from actions.booking import ActionStartManage
    from bot.booking.service import NOT_FOUND

    window = "2026-12-14T12:30:00|2026-12-14T12:31:00|day"
    slots = {"manage_op": "reschedule", "manage_window": window}
    t = tracker("输错了，电话是13547023968", "inform", slots)
    t.events[:0] = [{"event": "user", "text": "想改到下周一中午十二点半，码PJ6E2A，电话13547023986"},
                    {"event": "bot", "text": NOT_FOUND + "。"}]
    _, set_ = run(ActionStartManage(), t)
    assert set_["manage_op"] == "reschedule" and "manage_window" not in set_  # the window asked for is kept
    assert set_["manage_code"] == "PJ6E2A" and set_["manage_phone"] == "13547023968"
    t = tracker("电话是13547023968，改到下周二上午", "inform", slots)  # a new time said with the correction: that one
    t.events[:0] = [{"event": "bot", "text": NOT_FOUND + "。"}]
    _, set_ = run(ActionStartManage(), t)
    assert set_["manage_window"] != window


def test_a_mobile_corrected_after_not_found_keeps_the_cancellation_said():
    """"我想取消这个预约，预约码JDFCTR，手机(wrong)" was not found; "哦说错了，手机是…" cancels it (not "cancel or move?")."""
    from actions.booking import ActionStartManage
    from bot.booking.service import NOT_FOUND

    t = tracker("哦说错了，手机是15082131234", "inform", {"manage_op": "cancel"})
    t.events[:0] = [{"event": "user", "text": "算了，我想取消这个预约，预约码JDFCTR，手机15082131235"},
                    {"event": "bot", "text": NOT_FOUND + "。"}]
    _, set_ = run(ActionStartManage(), t)
    assert set_["manage_op"] == "cancel" and set_["manage_code"] == "JDFCTR" and set_["manage_phone"] == "15082131234"


@pytest.mark.parametrize("text, intent, booked_here, follow, response", [
    ("XNXQD4", "affirm", False, "action_start_manage", None),  # a code read as yes: the booking it names
    ("码是7J52CS", "deny", False, "action_start_manage", None), ("dkkhdt", "thanks", True, "action_start_manage", None),
    # a word, not a code: thanks closes the conversation, a goodbye and the rating invitation (action_offer_rating)
    ("thanks", "thanks", False, "action_offer_rating", "utter_goodbye"), ("好的谢谢", "thanks", True, "action_offer_rating", "utter_goodbye"),
    ("好的", "affirm", False, None, "utter_affirm"), ("不是", "deny", True, None, "utter_deny"),
])
def test_thanks_closes_yes_and_no_are_acknowledged_unless_they_are_a_booking_code(text, intent, booked_here, follow, response):
    from actions.chitchat import ActionAcknowledge

    dispatcher = CollectingDispatcher()
    t = tracker(text, intent, {"manage_code": "DKKHDT" if booked_here else None})
    events = asyncio.run(ActionAcknowledge().run(dispatcher, t, {}))
    assert [e["name"] for e in events if e["event"] == "followup"] == ([follow] if follow else [])
    assert [m.get("response") for m in dispatcher.messages] == ([response] if response else [])


@pytest.mark.parametrize("text, name", [
    ("办事人是我妈罗素珍 电话留我的13882617745", "罗素珍"),
    ("娃他爸马俊 电话15228190037", "马俊"),
    ("名字是我爸王强", "王强"),
    ("办事人是我妈", None),  # a relative, no name
    ("她叫罗桂芳，电话留我的13508131234", "罗桂芳"), ("他叫张三", "张三"), ("她叫啥子", None),  # for someone else
    ("代办人韩雪，电话13808131234", "韩雪"),  # the one who comes to do it
    # whose name is said first, then the name; the mobile may be someone else's
    ("十点钟，名字写他的，王树清，我电话13808137265", "王树清"), ("写娃娃的名字，罗子涵，电话是我的15228051837", "罗子涵"),
    ("帮她约个号，下周三上午十点，名字写她的，曾秀英，电话写我的13608137592", "曾秀英"), ("名字就写我妈的 刘淑华", "刘淑华"),
    ("名字写他的", None), ("写娃娃的名字", None),
])
def test_a_relative_named_before_the_name_is_not_part_of_it(text, name):
    assert name_in(text) == name


def test_an_id_number_is_kept_only_for_an_item_whose_booking_needs_it():
    text = "赵磊 13699031587 身份证号511126199003084520"
    assert person_details(text, "中国内地公民婚姻登记") == {
        "booking_name": "赵磊", "booking_phone": "13699031587", "booking_id_number": "511126199003084520"}
    assert person_details(text, "居民身份证办理（包括临时）") == {"booking_name": "赵磊", "booking_phone": "13699031587"}


@pytest.mark.parametrize("text, bye", [("88", True), ("好的88", True), ("136 8812 3456", False), ("电话188 1234 5678", False)])
def test_88_is_a_goodbye_only_outside_a_number(text, bye):
    assert says_goodbye(text) is bye


@pytest.mark.parametrize("text, found", [
    ("何勇 电话198 1234 0587", {"booking_name": "何勇", "booking_phone": "19812340587"}),  # a mobile typed in groups
    ("电话 139-1234-5678", {"booking_phone": "13912345678"}),
    ("身份证尾号 1234 5678", {}),  # no mobile
])
def test_a_mobile_typed_in_groups_is_read(text, found):
    assert person_details(text, "居民身份证办理（包括临时）") == found


def test_a_request_for_a_person_the_classifier_missed_is_handed_over():
    dispatcher = CollectingDispatcher()
    text = "你这个机器人说的啥子哦 气死人了 我要找真人"
    events = asyncio.run(ActionFallbackSearch().run(dispatcher, tracker(text, "nlu_fallback"), {}))
    assert dispatcher.messages == [] and events == [{"event": "followup", "name": "action_request_human", "timestamp": None}]


def booking_tracker(text, intent, asked, slots=None, bot_said=None):
    events = [{"event": "slot", "name": "requested_slot", "value": asked}]
    if bot_said:
        events.append({"event": "bot", **bot_said})
    events.append({"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}})
    return Tracker("test", {"requested_slot": asked, **(slots or {})}, {"text": text, "intent": {"name": intent}, "entities": []},
                   events, False, None, {"name": "booking_form"}, "action_listen")


def test_a_question_where_a_booking_detail_is_asked_is_answered_and_the_detail_asked_again():
    from actions.booking import ValidateBookingForm

    text = "等一下 我先问下要带啥子材料"
    t = booking_tracker(text, "ask_materials", "booking_name", {"booking_item": "无犯罪记录证明"})
    dispatcher = CollectingDispatcher()
    assert ValidateBookingForm().validate_booking_name(text, dispatcher, t, {}) == {"booking_name": None}
    assert dispatcher.messages[0]["text"].startswith("【无犯罪记录证明】") and "需要准备以下材料" in dispatcher.messages[0]["text"]
    assert dispatcher.messages[-1]["response"] == "utter_ask_booking_name"  # and the name is asked again
    dispatcher = CollectingDispatcher()
    assert ValidateBookingForm().validate_booking_phone("收费不", dispatcher, booking_tracker(
        "收费不", "ask_fee", "booking_phone", {"booking_item": "无犯罪记录证明"}), {}) == {"booking_phone": None}
    assert "收费" in dispatcher.messages[0]["text"]


def test_a_topic_where_the_item_to_book_is_asked_offers_its_bookable_items_and_a_number_picks_one(monkeypatch):
    from actions import booking

    monkeypatch.setattr(booking, "bookable_item", lambda text, context: (text if text != "学前教育、义务教育阶段入学办理" else None, None))
    monkeypatch.setattr(booking, "is_bookable", lambda entry: entry.name != "学前教育、义务教育阶段入学办理")
    dispatcher = CollectingDispatcher()
    asyncio.run(booking.ActionAskBookingItem().run(dispatcher, booking_tracker("想预约办个户口的事", "book_appointment", "booking_item"), {}))
    offer = dispatcher.messages[0]
    assert offer["text"].startswith("您想预约办理户口方面的哪一项？") and "户口迁移审批" in [b["title"] for b in offer["buttons"]]
    second = offer["buttons"][1]["payload"]
    t = booking_tracker("2", "choose_item", "booking_item", bot_said={"text": offer["text"], "data": {"buttons": offer["buttons"]}})
    assert booking.ValidateBookingForm().validate_booking_item("2", CollectingDispatcher(), t, {})["booking_item"] == second
    dispatcher = CollectingDispatcher()  # no topic: the plain question
    asyncio.run(booking.ActionAskBookingItem().run(dispatcher, booking_tracker("我要预约", "book_appointment", "booking_item"), {}))
    assert [m.get("response") for m in dispatcher.messages] == ["utter_ask_booking_item"]


def test_the_item_named_where_it_is_asked_is_no_change_of_mind(monkeypatch):
    from actions import booking

    monkeypatch.setattr(booking, "bookable_item", lambda text, context: ("户口迁移审批", None))
    t = booking_tracker("我从眉山嫁过来的 要把户口迁过来", "cancel_appointment", "booking_item")
    messages, slots = run(booking.ActionBookingAbandon(), t)
    assert messages == [] and slots == {"booking_item": "户口迁移审批"}
    messages, slots = run(booking.ActionBookingAbandon(), booking_tracker("算了不约了", "cancel_appointment", "booking_item"))
    assert messages[0]["text"].startswith("好的，这次没有为您预约") and slots["booking_item"] is None


@pytest.mark.parametrize("text, corrects", [("七点那个嘛", True), ("改成下午", True), ("电话是139 1234 5678", True), ("对 确认", False)])
def test_a_time_in_chinese_numerals_at_the_read_back_corrects_it(text, corrects):
    from actions.guides import corrects_the_read_back

    assert corrects_the_read_back(tracker(text, "nlu_fallback", {"booking_request_id": "r1"}), text) is corrects


@pytest.mark.parametrize("text", [
    "结婚证搞掉了 约补领结婚证", "我想约个时间办灵活就业人员的养老保险参保登记",  # a booking with the service to do
    "我要去办个居住证 明天上午 我叫黄丽 手机号15182330764",  # a day to come and a mobile, without 约
    "换身份证晚上能办不 我白天要上班 户口就在夹江",  # out of hours, for someone who works by day: the hours, then "5+X"
])
def test_a_booking_the_classifier_read_as_a_question_is_started(text):
    """Two models trained alike but for the seed read these as a question or as a booking; the action does not depend
    on which."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionAnswerGuide().run(dispatcher, tracker(text, "ask_item"), {}))
    assert {"event": "followup", "name": "action_start_booking"} in [{k: e.get(k) for k in ("event", "name")} for e in events]
    assert not dispatcher.messages


@pytest.mark.parametrize("text", ["没得了", "要得 莫得事了", "好 莫得其他的了"])
def test_nothing_more_read_as_a_question_is_a_goodbye(text):
    current = item_id("社会保障卡申领")
    messages, slots = run(ActionAnswerGuide(), tracker(text, "ask_item", {"item": current}))
    assert not any("社会保障卡申领" in (m.get("text") or "") for m in messages)
    assert any(m.get("response") == "utter_goodbye" or "再见" in (m.get("text") or "") for m in messages)


@pytest.mark.parametrize("text, books", [
    ("我想约个时间去办身份证要带啥", False), ("约个号要带什么", False), ("预约办理要带啥", False), ("要不要预约办身份证", False),
    ("大约办多久", False), ("跑网约车的要办啥证", False), ("结婚证搞掉了 约补领结婚证", True), ("我要约个时间办退休", True),
    ("想预约办个户口的事", True), ("我要约城乡居民养老保险参保 农村交的那个", True), ("我想约的那个能改吗", False),
    ("我要约个好日子结婚", True),  # the marriage registration on the day they pick (since the search learned 结婚 from the
    ("我要约朋友吃饭", False),      # writers' questions; before, a day for the wedding and no booking)
])
def test_a_booking_with_the_service_to_do(text, books):
    from actions.guides import books_a_service

    assert books_a_service(text) is books


def test_a_step_said_in_words_another_guide_fits_better_is_that_step():
    """After the shop's steps, "营业执照" is the sole proprietor's licence among them, not the company's guide; an item
    with nothing in common with the steps is still answered as itself."""
    steps = [item_id(n) for n in ("个体工商户设立登记", "食品经营许可", "公共场所卫生许可新办审批（县级）", "印章刻制备案")]
    messages, slots = run(ActionAnswerGuide(), tracker("营业执照那个网上能办不", "ask_online", {"candidates": steps}))
    assert messages[0]["text"].startswith("【个体工商户设立登记】") and slots["item"] == steps[0]
    messages, slots = run(ActionAnswerGuide(), tracker("社保卡掉了咋个补", "ask_procedure", {"candidates": steps}))
    assert messages[0]["text"].startswith("【社会保障卡补领、换领、换发】")


def test_the_steps_listed_a_few_turns_ago_still_say_which_step_is_meant():
    """The shop's steps listed, then two questions about 食品经营许可 (the options left for it): "营业执照那个要好久"
    is still the sole proprietor's licence; once the list is more turns back than STEPS_RECALLED, the words alone
    (which fit the company's licence as well: asked which)."""
    from actions.guides import STEPS_RECALLED
    from knowledge.events import events

    shop = next(e for e in events() if e.id == "open-shop")
    listed = [{"event": "user", "text": "我想在夹江开个小面馆，要办些啥子手续哦"}, {"event": "bot", "text": f"【一件事：{shop.name}】…"},
              {"event": "user", "text": "食品经营许可那个要带啥子"}, {"event": "bot", "text": "【食品经营许可】…"},
              {"event": "user", "text": "要好久才批得下来"}, {"event": "bot", "text": "【食品经营许可】…"}]
    t = tracker("营业执照那个要好久", "ask_time_limit", {"item": item_id("食品经营许可")})
    t.events[:0] = listed
    messages, slots = run(ActionAnswerGuide(), t)
    assert messages[0]["text"].startswith("【个体工商户设立登记】") and slots["item"] == item_id("个体工商户设立登记")
    t = tracker("营业执照那个要好久", "ask_time_limit", {"item": item_id("食品经营许可")})
    t.events[:0] = listed + [{"event": "user", "text": "要钱不"}, {"event": "bot", "text": "【食品经营许可】…"}] * STEPS_RECALLED
    messages, _ = run(ActionAnswerGuide(), t)
    assert not messages[0]["text"].startswith("【个体工商户设立登记】")


def test_a_thing_no_step_speaks_of_is_none_of_the_steps_listed():
    """"退休了还要交个税不" after the retirement's steps (with a step's guide answered since): a tax, which no step's guide
    speaks of, is not answered as the step the words fit best."""
    from knowledge.events import events

    retirement = next(e for e in events() if e.id == "retirement")
    t = tracker("退休了还要交个税不", "ask_fee", {"item": item_id("个人参保证明查询打印")})
    t.events[:0] = [{"event": "user", "text": "我明年退休，要办些啥子"}, {"event": "bot", "text": f"【一件事：{retirement.name}】…"},
                    {"event": "user", "text": "个人参保证明在哪儿打"}, {"event": "bot", "text": "【个人参保证明查询打印】…"}]
    messages, slots = run(ActionAnswerGuide(), t)
    assert not messages[0]["text"].startswith("【企业职工基本养老保险正常退休申请】")
    assert slots.get("item") != item_id("企业职工基本养老保险正常退休申请")


@pytest.mark.parametrize("text, confirms", [
    ("这回对了", True), ("都对的 确认", True), ("没问题", True), ("对头", True), ("不对", False), ("电话不对", False),
])
def test_yes_to_the_read_back_in_words_books_it(text, confirms):
    """At the read-back, "这回对了" is yes whatever the classifier made of it (a model read it as not understood)."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionFallbackSearch().run(dispatcher, tracker(text, "nlu_fallback", {"booking_request_id": "r1"}), {}))
    submitted = {"event": "followup", "name": "action_submit_booking"} in [{k: e.get(k) for k in ("event", "name")} for e in events]
    assert submitted is confirms


def test_a_code_with_the_mobile_read_as_a_choice_is_about_that_booking():
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionChooseItem().run(dispatcher, tracker("查一下 CRGR25 18990413362", "choose_item"), {}))
    assert {"event": "followup", "name": "action_start_manage"} in [{k: e.get(k) for k in ("event", "name")} for e in events]
    assert not dispatcher.messages


def test_a_call_back_asked_for_is_a_person():
    from actions.desk import wants_a_person

    assert wants_a_person("我情况比较复杂 中间断缴了几年 你们喊个人给我回个电话嘛")
    assert not wants_a_person("办好了会打电话通知我吗")
    assert wants_a_person("你是不是机器人哦？喊个真人来跟我说")
    assert not wants_a_person("是真人在办吗")
    assert wants_a_person("我想问下具体要排好久才分得到房，你帮我转个人工嘛")  # asked with a question: the person wins
    assert not wants_a_person("人工智能能办不")


def test_a_topic_not_understood_is_offered_as_when_understood():
    """"问一下不动产登记" names two guides' common part: whether the classifier read it as a question or not at all, the
    citizen is asked which (the fallback answers through the same place as the question action)."""
    for action, intent in ((ActionFallbackSearch(), "nlu_fallback"), (ActionAnswerGuide(), "ask_item")):
        messages, slots = run(action, tracker("问一下不动产登记", intent))
        assert "不动产转移登记" in str(messages) and "不动产抵押登记" in str(messages), (intent, messages)


def test_a_thing_no_guide_speaks_of_is_no_follow_up_of_the_one_option_offered():
    """After one option was offered ("接种证搞掉了咋个办"), "车子年审在哪儿弄" is not asked of it; "在哪儿弄" is."""
    offered = item_id("《预防接种证》办理")
    messages, slots = run(ActionAnswerGuide(), tracker("车子年审在哪儿弄", "ask_location_hours", {"candidates": [offered]}))
    assert "预防接种" not in str(messages)
    messages, slots = run(ActionAnswerGuide(), tracker("在哪儿弄", "ask_location_hours", {"candidates": [offered]}))
    assert messages[0]["text"].startswith("【《预防接种证》办理】")


def test_thanks_the_assistant_cannot_place_end_the_conversation_politely():
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionFallbackSearch().run(dispatcher, tracker("好了，谢谢你，等我从海南回来给你们带椰子", "nlu_fallback"), {}))
    assert [m.get("response") for m in dispatcher.messages] == ["utter_goodbye"]
    assert events == [{"event": "followup", "name": "action_offer_rating", "timestamp": None}]


def test_an_option_named_in_words_outweighs_a_number_that_points_elsewhere():
    from actions.guides import pick_candidate

    options = [item_id("出生登记"), item_id("户口迁移审批")]
    assert pick_candidate("第一个嘛，就是迁户口那个，我要把户口迁回夹江", options).name == "户口迁移审批"
    assert pick_candidate("第一个", options).name == "出生登记" and pick_candidate("第二个嘛", options).name == "户口迁移审批"


def test_asking_to_change_a_booking_made_is_a_move():
    from bot.booking.service import manage_op, moves_or_cancels

    said = "哎呀刚刚厂头打电话来说周六要加班，那个能不能改一哈"
    assert moves_or_cancels(said) and manage_op(said) == "reschedule"
