"""The appeal intake's actions (actions/appeals.py) with tracker fixtures: what a message carries, the form's validation
(cancelling, corrections at the read-back, a yes), and filing through a stand-in appeals office."""
import asyncio
import datetime as dt
from types import SimpleNamespace

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.appeals import (
    ActionAskAppealConfirm,
    ActionAskAppealContact,
    ActionFinishAppeal,
    ActionStartAppeal,
    ValidateAppealForm,
    account_of,
    agrees,
    appeal_type_of,
    books_instead,
    cancels,
    closes,
    correction,
    details_in,
    place_in,
    since_in,
)
from actions.chitchat import ActionAcknowledge, ActionSmallTalk
from actions.guides import ActionAnswerGuide
from bot import services
from bot.appeals import texts
from bot.clock import TZ
from bot.handoff.desk import Escalation
from bot.messages import Reply

FORM = ["appeal_what", "appeal_place", "appeal_since", "appeal_wish", "appeal_contact", "appeal_confirm"]
DOMAIN = {"forms": {"appeal_form": {"required_slots": FORM}}}


def tracker(text, slots=None, intent="complain", events=None, sender="webchat-0123456789abcdef0123"):
    events = list(events or []) + [{"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}]
    return Tracker(sender, slots or {}, {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []},
                   events, False, None, {"name": "appeal_form"}, "action_listen")


def run(action, t):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, DOMAIN))
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e.get("event") == "slot"}, events


@pytest.mark.parametrize("text, kind", [("我要举报有人在河道里采砂", "举报"), ("提个建议，公交站加个雨棚", "建议"),
                                        ("求助，电线杆快倒了", "求助"), ("帮帮忙嘛，化粪池漫出来了", "求助"),
                                        ("楼下烧烤摊油烟太大了", "投诉")])
def test_the_citizens_word_names_the_type(text, kind):
    assert appeal_type_of(text) == kind


@pytest.mark.parametrize("text, place", [
    ("黄土镇新华村3组的路灯坏了", "黄土镇新华村3组"), ("我家住在漹城街道东风路23号", "漹城街道东风路23号"),
    ("县政务中心三楼社保窗口的人骂人", "县政务中心三楼社保窗口"), ("幸福家园小区门口天天占道", "幸福家园小区门口"),
    ("我要投诉社保窗口", "社保窗口"), ("我们农村的路烂得很", None), ("窗口的人说话太冲了", None), ("我们小区的物业不管事", None),
    ("晚上走路看不见", None), ("就在马路对面", None), ("有人占道经营", None),
])
def test_a_place_is_found_when_named(text, place):
    assert place_in(text) == place


@pytest.mark.parametrize("text, since", [("昨天晚上开始的", "昨天"), ("上周五就这样了", "上周五"), ("已经半个月了", "半个月了"),
                                         ("好几天了", "好几天了"), ("三月份开始", "三月份开始"), ("排了三个小时队都没轮到", None),
                                         ("每天晚上都吵", None)])
def test_since_when_is_found_when_named(text, since):
    assert since_in(text) == since


def test_one_message_can_carry_every_detail():
    text = "我要举报，黄土镇新华村3组有人半个月了一直往河里倒垃圾，希望尽快处理，电话13812341234，我姓王"
    assert appeal_type_of(text) == "举报"
    assert account_of(text, "举报") == "黄土镇新华村3组有人半个月了一直往河里倒垃圾"
    assert details_in(text, "举报") == {"appeal_place": "黄土镇新华村3组", "appeal_since": "半个月了", "appeal_wish": "希望尽快处理",
                                        "appeal_contact": "13812341234", "appeal_name": "王"}


@pytest.mark.parametrize("text, yes, cancelled", [
    ("确认提交", True, False), ("好的，确认，再见", True, False), ("没问题，谢谢", True, False), ("可以", True, False),
    ("算了", False, True), ("不投诉了，再见", False, True), ("取消", False, True), ("再见", False, True),
    ("不对", False, False), ("地点不对，是黄土镇新华村", False, False),
    ("没得其他事了，再见", True, False), ("就这些，谢谢", True, False),  # nothing to change, and the citizen is done
])
def test_yes_and_cancel_at_the_read_back(text, yes, cancelled):
    assert agrees(text) is yes and cancels(text) is cancelled


@pytest.mark.parametrize("text, changes", [
    ("地点不对，是黄土镇新华村", {"appeal_place": "黄土镇新华村"}), ("电话改成13912345678", {"appeal_contact": "13912345678"}),
    ("时间是上个月", {"appeal_since": "上个月"}), ("我希望他们晚上十点以后别再施工", {"appeal_wish": "我希望他们晚上十点以后别再施工"}),
    ("地点不对", {"appeal_place": None}), ("不是投诉，是建议", {"appeal_type": "建议"}), ("电话不留了，匿名", {"appeal_contact": "匿名"}),
    ("对的，就是这个情况", {}), ("可以，谢谢你们尽快处理", {}),
])
def test_a_correction_at_the_read_back_changes_that_detail(text, changes):
    assert correction(text, "投诉") == changes


def test_start_takes_what_the_first_message_says():
    messages, slots, events = run(ActionStartAppeal(), tracker("我要投诉，漹城街道东风路的烧烤摊好几天了天天半夜吵，希望管一管"))
    assert "投诉工单" in messages[0]["text"]
    assert slots["appeal_type"] == "投诉" and slots["appeal_what"] == "漹城街道东风路的烧烤摊好几天了天天半夜吵"
    assert slots["appeal_place"] == "漹城街道东风路" and slots["appeal_since"] == "好几天了" and slots["appeal_wish"] == "希望管一管"
    assert events[-1] == {"event": "followup", "name": "appeal_form", "timestamp": None}


def test_start_with_nothing_told_asks_everything():
    _, slots, _ = run(ActionStartAppeal(), tracker("我要投诉"))
    assert slots["appeal_what"] is None and slots["appeal_type"] == "投诉"


def test_the_offers_button_files_the_question_it_was_offered_for():
    asked = [{"event": "user", "text": "黄土镇新华村停水三天了，找哪个部门"}, {"event": "bot", "text": "需要登记吗？"}]
    _, slots, _ = run(ActionStartAppeal(), tracker("/complain", events=asked))
    assert slots["appeal_what"] == "黄土镇新华村停水三天了，找哪个部门" and slots["appeal_place"] == "黄土镇新华村"
    assert slots["appeal_since"] == "三天了"


OFFERED = [{"event": "user", "text": "老板欠我们工资三个月了 就是不给 咋个办嘛"},
           {"event": "bot", "text": texts.offer("县人力资源和社会保障局")[0]},
           {"event": "bot", "text": None, "data": {"custom": {"note": "not_found"}}}]  # a note for the insight pages follows it


@pytest.mark.parametrize("action, text, intent", [(ActionAcknowledge(), "要得", "affirm"),
                                                  (ActionSmallTalk(), "从八月份开始就没发了", "out_of_scope"),
                                                  (ActionAnswerGuide(), "在甘江镇一个砖厂 十几个工人都没拿到", "inform")])
def test_a_yes_or_more_about_the_problem_after_the_offer_takes_it_up(action, text, intent):
    _, _, events = run(action, tracker(text, intent=intent, events=OFFERED))
    assert events == [{"event": "followup", "name": "action_start_appeal", "timestamp": None}]
    _, slots, _ = run(ActionStartAppeal(), tracker(text, intent=intent, events=OFFERED))
    assert slots["appeal_what"].startswith("老板欠我们工资三个月了") and (text == "要得" or text in slots["appeal_what"])


def test_a_no_or_a_service_question_after_the_offer_is_not_taken_as_the_appeal():
    for action, text, intent in [(ActionAcknowledge(), "不用了", "deny"), (ActionAnswerGuide(), "那低保咋个申请", "ask_procedure")]:
        messages, _, events = run(action, tracker(text, intent=intent, events=OFFERED))
        assert messages and all(e.get("name") != "action_start_appeal" for e in events)


def test_a_service_question_is_answered_not_taken_as_an_appeal():
    messages, _, events = run(ActionStartAppeal(), tracker("娃兒上戶口，爸媽兩個都要去不"))
    assert "工单" not in messages[0]["text"] and events[-1]["name"] == "action_listen"


def test_a_short_detail_after_an_answer_read_as_a_complaint_is_no_appeal():
    from knowledge.service import get_index
    relief = get_index().kb.by_name("临时救助").id
    # "长期的那种" right after the help was answered: a detail of the matter, no word of a complaint
    messages, _, events = run(ActionStartAppeal(), tracker("长期的那种 每个月都有的", {"item": relief}))
    assert messages and "工单" not in messages[0]["text"] and events[-1]["name"] == "action_listen"
    # a complaint in a few words after an answer is still one, and so is the same detail with nothing in context
    for text, slots in (("窗口态度太差了", {"item": relief}), ("长期的那种 每个月都有的", {})):
        messages, _, _ = run(ActionStartAppeal(), tracker(text, slots))
        assert "工单" in messages[0]["text"], text


def test_an_aspect_of_the_item_answered_in_passing_is_answered_and_the_intake_asks_again():
    from knowledge.service import get_index
    transfer = get_index().kb.by_name("不动产转移登记")
    dispatcher = CollectingDispatcher()
    text = "正常要跑几趟才办得完"  # right after the intake answered the transfer's materials in passing
    slots = ValidateAppealForm().validate_appeal_place(text, dispatcher, tracker(text, {"item": transfer.id}), DOMAIN)
    assert slots == {"appeal_place": None, "item": transfer.id}
    assert dispatcher.messages[0]["text"].startswith("【不动产转移登记】") and "办事现场" in dispatcher.messages[0]["text"]
    assert "地点" in dispatcher.messages[-1]["text"]


def test_an_answer_takes_every_detail_it_carries():
    slots = ValidateAppealForm().validate_appeal_place("黄土镇新华村，上个月开始的，希望尽快修好", CollectingDispatcher(),
                                                       tracker("黄土镇新华村，上个月开始的，希望尽快修好"), DOMAIN)
    assert slots == {"appeal_place": "黄土镇新华村", "appeal_since": "上个月开始", "appeal_wish": "希望尽快修好"}


def test_a_place_said_without_a_place_word_is_taken_as_said():
    slots = ValidateAppealForm().validate_appeal_place("就在县医院门口", CollectingDispatcher(), tracker("就在县医院门口"), DOMAIN)
    assert slots == {"appeal_place": "县医院门口"}


@pytest.mark.parametrize("text, contact", [("13812341234", "13812341234"), ("匿名", "匿名"), ("不方便留", "匿名"),
                                           ("不用了", "匿名"), ("0833-5123456", "0833-5123456")])
def test_a_contact_or_anonymous(text, contact):
    slots = ValidateAppealForm().validate_appeal_contact(text, CollectingDispatcher(), tracker(text), DOMAIN)
    assert slots["appeal_contact"] == contact


def test_leaving_once_the_matter_is_told_files_it_as_told_without_a_phone():
    told = {"appeal_what": "窗口的人说我材料不对，又不讲清楚", "appeal_place": "就业窗口", "appeal_since": "上个月20号上午"}
    slots = ValidateAppealForm().validate_appeal_wish("就这些，再见", CollectingDispatcher(), tracker("就这些，再见", told), DOMAIN)
    assert slots == {"appeal_wish": "", "appeal_contact": "匿名", "appeal_confirm": "confirmed"}
    slots = ValidateAppealForm().validate_appeal_contact("就这些，再见", CollectingDispatcher(), tracker("就这些，再见", told), DOMAIN)
    assert slots["appeal_contact"] == "匿名" and slots["appeal_confirm"] == "confirmed"
    # the last answer, then a goodbye: the answer kept, and filed with the phone given before
    told = {**told, "appeal_contact": "13518131234"}
    slots = ValidateAppealForm().validate_appeal_wish("好，希望你们认真处理，再见", CollectingDispatcher(),
                                                      tracker("好，希望你们认真处理，再见", told), DOMAIN)
    assert slots == {"appeal_wish": "希望你们认真处理", "appeal_contact": "13518131234", "appeal_confirm": "confirmed"}
    week = "吵得睡不着觉，已经一个礼拜了"  # 礼拜 is no goodbye
    assert "appeal_confirm" not in ValidateAppealForm().validate_appeal_since(week, CollectingDispatcher(), tracker(week, told), DOMAIN)
    nothing_told = ValidateAppealForm().validate_appeal_place("就这些，再见", CollectingDispatcher(), tracker("就这些，再见"), DOMAIN)
    assert "appeal_confirm" not in nothing_told or nothing_told["appeal_confirm"] != "confirmed"


def test_a_broken_number_is_asked_again_once():
    dispatcher = CollectingDispatcher()
    slots = ValidateAppealForm().validate_appeal_contact("138123", dispatcher, tracker("138123", {"appeal_type": "举报"}), DOMAIN)
    assert slots["appeal_contact"] is None and "不完整" in dispatcher.messages[0]["text"] and "匿名" in dispatcher.messages[0]["text"]


def test_cancelling_words_at_any_step_end_the_form():
    t = tracker("算了，不投诉了", {"appeal_what": "路灯坏了好几天", "requested_slot": "appeal_place"})
    slots = ValidateAppealForm().validate_appeal_place("算了，不投诉了", CollectingDispatcher(), t, DOMAIN)
    assert slots["appeal_confirm"] == "cancelled" and slots["appeal_what"] is None
    events = [{"event": "slot", "name": "requested_slot", "value": "appeal_place"},
              {"event": "user", "text": "算了，不投诉了"}, {"event": "slot", "name": "appeal_place", "value": "算了，不投诉了"}]
    t = Tracker("webchat-x", {"appeal_what": "路灯坏了好几天", "requested_slot": "appeal_place", "appeal_place": "算了，不投诉了"},
                {"text": "算了，不投诉了"}, events, False, None, {"name": "appeal_form"}, "action_listen")
    _, slots, _ = run(ValidateAppealForm(), t)
    assert slots["appeal_confirm"] == "cancelled" and slots["requested_slot"] is None  # the form ends


@pytest.mark.parametrize("payload, slots", [("/complain", {"appeal_wish": None}), ("/deny", {"appeal_confirm": "cancelled"})])
def test_a_button_during_the_form_is_no_answer(payload, slots):
    found = ValidateAppealForm().validate_appeal_wish(payload, CollectingDispatcher(), tracker(payload), DOMAIN)
    assert {k: v for k, v in found.items() if k in slots} == slots


def test_a_suggestion_is_not_asked_for_a_wish():
    required = asyncio.run(ValidateAppealForm().required_slots(FORM, CollectingDispatcher(), tracker("x", {"appeal_type": "建议"}), DOMAIN))
    assert "appeal_wish" not in required and required[-1] == "appeal_confirm"


FILLED = {"appeal_what": "东风路的路灯坏了", "appeal_place": "漹城街道东风路", "appeal_since": "半个月了", "appeal_wish": "希望尽快修好",
          "appeal_contact": "13812341234", "appeal_type": "投诉", "appeal_confirm": None}


def test_the_read_back_masks_the_phone_and_offers_two_buttons():
    messages, _, _ = run(ActionAskAppealConfirm(), tracker("13812341234", FILLED))
    text = messages[0]["text"]
    for part in ("东风路的路灯坏了", "漹城街道东风路", "半个月了", "希望尽快修好", "138****1234", "类型：投诉"):
        assert part in text
    assert "13812341234" not in text and [b["title"] for b in messages[0]["buttons"]] == ["确认提交", "修改"]


def test_the_contact_question_says_a_report_may_be_anonymous():
    messages, _, _ = run(ActionAskAppealContact(), tracker("x", {"appeal_type": "举报"}))
    assert "匿名" in messages[0]["text"] and "工单" in messages[0]["text"]


def test_a_bare_no_at_the_read_back_asks_what_to_change():
    dispatcher = CollectingDispatcher()
    slots = ValidateAppealForm().validate_appeal_confirm("不对", dispatcher, tracker("不对", FILLED), DOMAIN)
    assert slots == {"appeal_confirm": None} and "哪一项" in dispatcher.messages[0]["text"]


class FakeOffice:
    def __init__(self, fail=False):
        self.filed, self.fail = [], fail
        self.routing = SimpleNamespace(department_name=lambda code: {"zhujian": "县住房和城乡建设局"}[code])

    def file(self, intake, channel, conversation_id):
        if self.fail:
            raise RuntimeError("database is down")
        self.filed.append((intake, channel, conversation_id))
        return SimpleNamespace(number="GD2612020001", status="dispatched", department="zhujian", appeal_type=intake.appeal_type,
                               due_at=dt.datetime(2026, 12, 16, 17, 30, tzinfo=TZ), urgent=False)


class StubDesk:
    def __init__(self):
        self.calls = []

    async def escalate(self, conversation_id, reason):
        self.calls.append((conversation_id, reason))
        return Escalation([Reply(text="正在为您转接人工客服，当前排在第1位。", action="handoff")])


@pytest.fixture
def office():
    stand_in = SimpleNamespace(appeals=FakeOffice(), desk=StubDesk())
    services.use(stand_in)
    yield stand_in
    services.use(None)


def test_confirmed_is_filed_and_the_number_told(office):
    messages, slots, _ = run(ActionFinishAppeal(), tracker("确认提交", {**FILLED, "appeal_confirm": "confirmed"}))
    (intake, channel, conversation), = office.appeals.filed
    assert (intake.what, intake.place, intake.since, intake.wish, intake.contact_phone, intake.appeal_type) == (
        "东风路的路灯坏了", "漹城街道东风路", "半个月了", "希望尽快修好", "13812341234", "投诉")
    assert channel == "webchat" and conversation == "webchat-0123456789abcdef0123"
    assert "GD2612020001" in messages[0]["text"] and "县住房和城乡建设局" in messages[0]["text"] and len(messages) == 1
    assert all(value is None for value in slots.values()) and "appeal_type" in slots


@pytest.mark.parametrize("text", ["好的确认，再见", "没得了 谢谢"])
def test_confirmed_with_a_goodbye_adds_the_goodbye_and_the_rating(office, text):
    messages, _, events = run(ActionFinishAppeal(), tracker(text, {**FILLED, "appeal_contact": "匿名", "appeal_confirm": "confirmed"}))
    assert office.appeals.filed[0][0].contact_phone == ""
    assert messages[1]["response"] == "utter_goodbye" and events[-1] == {"event": "followup", "name": "action_offer_rating",
                                                                        "timestamp": None}


def test_cancelled_files_nothing(office):
    messages, slots, _ = run(ActionFinishAppeal(), tracker("算了", {"appeal_confirm": "cancelled", "appeal_type": "投诉"}))
    assert office.appeals.filed == [] and "没有登记" in messages[0]["text"] and slots["appeal_confirm"] is None


def test_a_failure_to_file_is_told_with_the_hotline(office):
    office.appeals.fail = True
    messages, slots, _ = run(ActionFinishAppeal(), tracker("确认提交", {**FILLED, "appeal_confirm": "confirmed"}))
    assert "没能登记" in messages[0]["text"] and "12345" in messages[0]["text"] and slots["appeal_what"] is None


def test_a_person_asked_for_during_the_form_is_escalated_and_nothing_filed(office):
    slots = ValidateAppealForm().validate_appeal_place("转人工", CollectingDispatcher(), tracker("转人工", FILLED), DOMAIN)
    assert slots["appeal_confirm"] == "person"
    messages, _, _ = run(ActionFinishAppeal(), tracker("转人工", {"appeal_confirm": "person", "appeal_type": "投诉"}))
    assert office.appeals.filed == [] and office.desk.calls == [("webchat-0123456789abcdef0123", "complaint")]
    assert "当前排在第1位" in messages[0]["text"]


def test_asking_for_the_staff_given_to_complain_is_handed_to_a_person():
    import asyncio

    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.appeals import ActionStartAppeal

    def start(text):
        t = Tracker("t", {}, {"text": text, "intent": {"name": "complain", "confidence": 0.7}, "entities": []}, [], False, None, {},
                    "action_listen")
        return asyncio.run(ActionStartAppeal().run(CollectingDispatcher(), t, {}))

    assert [e["name"] for e in start("这个你都说不清楚 有没有工作人员 我直接问") if e["event"] == "followup"] == ["action_request_human"]
    assert "action_request_human" not in [e.get("name") for e in start("我要投诉窗口工作人员态度差")]


def test_nothing_more_once_the_matter_is_told_files_it_and_a_bare_pronoun_answers_nothing():
    told = {"appeal_what": "东大街那家火锅店油烟太大", "appeal_place": "东大街", "appeal_contact": "13890654321"}
    slots = ValidateAppealForm().validate_appeal_wish("没得了 谢谢", CollectingDispatcher(), tracker("没得了 谢谢", told), DOMAIN)
    assert slots["appeal_confirm"] == "confirmed" and slots["appeal_contact"] == "13890654321"
    # "我电话138…" where the time is asked: the phone is taken, "我" is no time
    slots = ValidateAppealForm().validate_appeal_since("我电话13890654321", CollectingDispatcher(),
                                                       tracker("我电话13890654321", {"appeal_what": "油烟太大"}), DOMAIN)
    assert slots.get("appeal_since") is None and slots.get("appeal_contact") == "13890654321"


@pytest.mark.parametrize("text, done", [
    ("好 谢谢", True), ("谢谢你", True), ("行，再见", True), ("就这些 谢谢", True),
    ("在漹城镇 谢谢", False), ("昨天开始的", False), ("好", False),
    ("好 谢谢你们", True), ("谢了 就这样", True), ("好嘛 那等你们回话 谢谢", True),  # 你们 whole; 谢了; waiting for the reply
    ("谢谢 但是还有个事", False), ("那就这样嘛，拜拜", True),  # "那": the yes of a citizen who is done
    ("那我等着，再见", True), ("我等着看你们咋个处理，再见", False),  # waiting for the answer; "看…" tells more
])
def test_thanks_or_a_goodbye_with_at_most_a_yes_closes_the_intake(text, done):
    assert closes(text) is done


def test_a_town_whose_name_ends_in_cheng_zhen_is_a_place():
    assert place_in("我要投诉 漹城镇我们楼下那个烧烤摊天天搞到半夜两点") == "漹城镇"
    assert place_in("小城镇") is None


BOOKING_MID_INTAKE = "那我重新约个时间办不动产转移登记，下周二上午十点"


def test_a_booking_asked_in_the_intake_files_what_was_told_then_starts_the_booking(office):
    told = {"appeal_what": "上周去不动产登记中心办过户，说系统坏了让我回去，白跑一趟", "appeal_contact": "13551234567"}
    slots = ValidateAppealForm().validate_appeal_place(BOOKING_MID_INTAKE, CollectingDispatcher(),
                                                       tracker(BOOKING_MID_INTAKE, told, intent="book_appointment"), DOMAIN)
    assert slots["appeal_confirm"] == "confirmed" and slots["appeal_place"] == "" and slots["appeal_contact"] == "13551234567"
    messages, _, events = run(ActionFinishAppeal(), tracker(BOOKING_MID_INTAKE, {**told, **slots}, intent="book_appointment"))
    assert office.appeals.filed[0][0].what == told["appeal_what"] and "GD2612020001" in messages[0]["text"]
    assert events[-1] == {"event": "followup", "name": "action_start_booking", "timestamp": None}


@pytest.mark.parametrize("text", ["我约了号过去还是白跑一趟", "上周二约的上午十点", "在不动产登记中心预约窗口"])
def test_a_booking_told_as_part_of_the_complaint_is_a_detail(text):
    assert not books_instead(text)


def test_a_question_in_the_intake_about_the_item_the_account_names_is_answered_about_it():
    """"社保卡补办那个页面一直打不开", then "那我现在去窗口补办 要带啥子": the card's materials, then the intake's question."""
    told = {"appeal_what": "那个天府通办我弄了三天 社保卡补办那个页面一直打不开", "appeal_contact": "17381236547"}
    dispatcher = CollectingDispatcher()
    text = "那我现在去窗口补办 要带啥子"
    slots = ValidateAppealForm().validate_appeal_wish(text, dispatcher, tracker(text, told), DOMAIN)
    assert slots == {"appeal_wish": None, "item": "social-security-card-reissue"}
    assert dispatcher.messages[0]["text"].startswith("【社会保障卡补领、换领、换发】") and "材料" in dispatcher.messages[0]["text"]
