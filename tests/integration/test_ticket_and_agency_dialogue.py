"""Off duty, a citizen who wants a person leaves a message or asks for a callback: Rasa's ticket_form (actions/tickets.py)
against the real trained model, through the app, with the work orders read back in the console."""
from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest

from bot.clock import TZ
from tests.integration.conftest import CONSOLE_ADMIN, CONSOLE_ADMIN_PASSWORD
from tests.integration.console_helpers import Citizen, ConsoleUser, texts

ROUND_THE_CLOCK = {"duty_hours": "00:00-24:00", "duty_days": "every_day", "sensitive_words": "不想活"}


@pytest.fixture(scope="module")
def admin(console_stack):
    user = ConsoleUser(console_stack.url, CONSOLE_ADMIN, CONSOLE_ADMIN_PASSWORD)
    yield user
    user.close()


@pytest.fixture
def off_duty(admin):
    """Duty hours that do not include now; round the clock again afterwards."""
    hour = dt.datetime.now(TZ).hour
    later = f"{(hour + 2) % 24:02d}:00-{(hour + 2) % 24:02d}:30"
    assert admin.post("/console/api/admin/settings", {**ROUND_THE_CLOCK, "duty_hours": later}).status_code == 200
    yield admin
    admin.post("/console/api/admin/settings", ROUND_THE_CLOCK)


def orders_of(admin: ConsoleUser, citizen: Citizen) -> list[dict]:
    listed = admin.get("/console/api/work-orders").json()["work_orders"]
    return [o for o in listed if o["conversation_id"] == citizen.id]


def number_in(text: str) -> str:
    found = re.search(r"GD\d{10}", text)
    assert found, text
    return found.group(0)


def test_a_message_is_chosen_described_and_given_a_phone(console_stack, off_duty):
    citizen = Citizen(console_stack.url)
    offer = citizen.say("转人工")
    assert "现在不是在线人工客服的服务时间" in texts(offer)
    assert [b["title"] for b in offer[-1]["buttons"]] == ["留言", "预约回电", "不用了"]
    assert "用一两句话说明" in texts(citizen.say("留言"))
    assert "内容有点少" in texts(citizen.say("路灯"))
    assert "联系电话" in texts(citizen.say("我家门口的路灯坏了一个月了"))
    assert "号码好像不完整" in texts(citizen.say("1381234"))
    created = texts(citizen.say("13812345678"))
    number = number_in(created)
    assert "已为您登记工单" in created and "留言" in created
    assert [(o["number"], o["category_label"], o["contact_phone"], o["channel"]) for o in orders_of(off_duty, citizen)] == [
        (number, "留言", "138****5678", "webchat")]
    assert "居民身份证" in texts(citizen.say("身份证丢了怎么补办"))  # the form is over: the bot answers again


def test_a_callback_needs_a_phone_and_the_offer_can_be_declined(console_stack, off_duty):
    citizen = Citizen(console_stack.url)
    citizen.say("转人工")
    assert "请简单说明" in texts(citizen.say("预约回电"))
    asked = texts(citizen.say("想问问城乡居民养老保险一年交多少"))
    assert "方便接听的电话号码" in asked
    for _ in range(2):
        assert "号码好像不完整" in texts(citizen.say("不留"))
    assert "登记先取消了" in texts(citizen.say("不留"))
    assert orders_of(off_duty, citizen) == []
    citizen.say("转人工")
    assert "已取消" in texts(citizen.say("不用了"))
    assert "社会保障卡" in texts(citizen.say("社保卡丢了怎么补办"))


def test_the_choice_said_in_a_sentence_with_the_phone_is_not_asked_again(console_stack, off_duty):
    citizen = Citizen(console_stack.url)
    citizen.say("我要人工客服")
    assert "用一两句话说明" in texts(citizen.say("那麻烦留个言，电话15908135678，姓陈"))
    created = texts(citizen.say("屋头情况特殊，想当面说下临时救助的事"))
    assert "已为您登记工单" in created
    order = orders_of(off_duty, citizen)[0]
    assert order["contact_phone"] == "159****5678" and "临时救助" in order["description"]


def test_a_question_instead_of_a_choice_is_answered_and_nothing_is_filed(console_stack, off_duty):
    citizen = Citizen(console_stack.url)
    citizen.say("转人工")
    answered = texts(citizen.say("低保要什么材料"))
    assert "最低生活保障" in answered and "联系电话" not in answered
    assert orders_of(off_duty, citizen) == []


def test_a_complaint_told_instead_of_a_choice_is_kept_when_the_citizen_leaves(console_stack, off_duty):
    citizen = Citizen(console_stack.url)
    assert "投诉工单" in texts(citizen.say("我要投诉你们窗口的工作人员"))  # the appeal intake form
    offer = texts(citizen.say("我不想登记，我要找人工"))  # a person asked for during the intake: off duty, the offer
    assert "非常抱歉" in offer and "留言投诉" in offer
    asked = texts(citizen.say("昨天下午三点过，公安那个窗口，一个女的，冲我吼"))
    assert "投诉" in asked and "联系电话" in asked
    leaving = texts(citizen.say("谢谢，拜拜"))
    assert "已为您登记工单" in leaving and "再见" in leaving and "请您对本次服务做个评价" in leaving
    order = orders_of(off_duty, citizen)[0]
    assert order["category"] == "complaint" and "冲我吼" in order["description"] and order["contact_phone"] == ""
    assert "感谢您的评价" in texts(citizen.say("满意"))


def test_a_sensitive_word_off_duty_offers_the_work_order_without_the_words_reaching_the_bot(console_stack, off_duty):
    citizen = Citizen(console_stack.url)
    offer = texts(citizen.say("我真的不想活了"))
    assert "110" in offer and "现在不是在线人工客服的服务时间" in offer
    assert "用一两句话说明" in texts(citizen.say("留言"))
    tracker = httpx.get(f"http://127.0.0.1:{console_stack.rasa_port}/conversations/{citizen.id}/tracker", timeout=30).json()
    said = [e.get("text") or "" for e in tracker["events"] if e.get("event") == "user"]
    assert not any("不想活" in text for text in said) and said[-1] == "留言"
    assert tracker["active_loop"]["name"] == "ticket_form"


# --- 代办/帮办: agency_form (actions/agency.py) --------------------------------------------------------------------

def test_an_agency_request_asks_the_village_and_a_contact_then_files_it(console_stack, admin):
    citizen = Citizen(console_stack.url)
    assert "乡镇和村" in texts(citizen.say("我想申请代办最低生活保障"))
    assert "乡镇和村" in texts(citizen.say("甘"))  # too short: asked again
    assert "姓名和电话" in texts(citizen.say("甘江镇新华村三组"))
    assert "号码好像不完整" in texts(citizen.say("李秀英 1391234"))
    created = texts(citizen.say("李秀英 13912345678"))
    assert "已登记您的代办申请" in created and "最低生活保障" in created
    order = orders_of(admin, citizen)[0]
    assert (order["category"], order["item_name"], order["village"], order["contact_name"], order["contact_phone"]) == (
        "agency", "最低生活保障", "甘江镇新华村三组", "李**", "139****5678")


def test_an_agency_request_for_the_item_just_answered_can_be_cancelled(console_stack, admin):
    citizen = Citizen(console_stack.url)
    answered = citizen.say("低保要什么材料")
    assert {"title": "申请代办", "payload": "申请代办 最低生活保障"} in answered[-1]["buttons"]
    assert "“最低生活保障”可以申请代办帮办" in texts(citizen.say("申请代办"))
    assert "已取消" in texts(citizen.say("算了"))
    assert orders_of(admin, citizen) == []
    newcomer = Citizen(console_stack.url)  # no item answered before: the list
    assert "可以代办帮办的事项" in texts(newcomer.say("申请代办服务"))
    assert "暂不在代办帮办服务清单" in texts(newcomer.say("申请代办 个体工商户设立登记"))
