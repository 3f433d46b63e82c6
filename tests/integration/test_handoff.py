"""Handoff against the real trained model and Rasa server: the triggers through DIET and the rules, the queue,
take-over with a real pause event (read back from Rasa's tracker), hand-back with resume and the context
kept, off-duty work orders and the rating after goodbye."""
from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest

from bot.clock import TZ
from tests.integration.conftest import CONSOLE_ADMIN, CONSOLE_ADMIN_PASSWORD
from tests.integration.console_helpers import Citizen, ConsoleUser, texts


@pytest.fixture(scope="module")
def admin(console_stack):
    user = ConsoleUser(console_stack.url, CONSOLE_ADMIN, CONSOLE_ADMIN_PASSWORD)
    yield user
    user.close()


@pytest.fixture(scope="module")
def operator(console_stack, admin):
    created = admin.post("/console/api/admin/operators", {"username": "zhang", "display_name": "3号坐席", "role": "operator",
                                                          "password": "Zhang-pass-2026"})
    assert created.status_code == 201, created.text
    user = ConsoleUser(console_stack.url, "zhang", "Zhang-pass-2026")
    yield user
    user.close()


@pytest.fixture
def empty_queue(operator):
    """Every test starts with nobody waiting and nobody served."""
    def clear():
        view = operator.get("/console/api/queue").json()
        for row in view["waiting"] + view["active"] + view["returned"]:
            cid = row["conversation_id"]
            if row["status"] == "active" and not row["mine"]:
                operator.post(f"/console/api/conversations/{cid}/hand-back")
            operator.post(f"/console/api/conversations/{cid}/close", {"category": "其他"})
    clear()
    yield operator
    clear()


def tracker(stack, conversation_id: str) -> dict:
    response = httpx.get(f"http://127.0.0.1:{stack.rasa_port}/conversations/{conversation_id}/tracker", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_take_over_pauses_the_real_rasa_and_hand_back_resumes_it_with_the_context(console_stack, empty_queue):
    operator = empty_queue
    citizen = Citizen(console_stack.url)
    assert "居民身份证" in texts(citizen.say("身份证丢了怎么补办"))
    queued = texts(citizen.say("转人工"))
    assert "当前排在第1位" in queued and "预计等待约" in queued
    assert not tracker(console_stack, citizen.id)["paused"]

    taken = operator.post(f"/console/api/conversations/{citizen.id}/take")
    assert taken.status_code == 200 and taken.json()["bot_paused"], taken.text
    state = tracker(console_stack, citizen.id)
    assert state["paused"] and state["events"][-1]["event"] == "pause"
    assert "人工客服（3号坐席）已接入" in texts(citizen.inbox())

    assert citizen.say("我户口本也丢了，能一起办吗") == []  # the operator answers, not the bot
    state = tracker(console_stack, citizen.id)
    assert state["paused"] and state["events"][-1]["event"] == "user" and state["events"][-1]["text"] == "我户口本也丢了，能一起办吗"
    understood = operator.get(f"/console/api/conversations/{citizen.id}/understanding").json()
    assert understood["paused"] and understood["item"]["name"] == "居民身份证办理（包括临时）"
    assert understood["turns"][-1]["text"] == "我户口本也丢了，能一起办吗" and understood["turns"][-1]["intent"]

    assert operator.post(f"/console/api/conversations/{citizen.id}/messages", {"text": "可以的，两样可以一起申请。"}).status_code == 200
    assert [(m["sender"], m["text"]) for m in citizen.inbox()] == [("operator", "可以的，两样可以一起申请。")]

    assert operator.post(f"/console/api/conversations/{citizen.id}/hand-back").status_code == 200
    state = tracker(console_stack, citizen.id)
    assert not state["paused"] and state["events"][-1]["event"] == "resume"
    assert "交还给智能助手" in texts(citizen.inbox())
    again = texts(citizen.say("那要多久能办好"))
    assert "居民身份证" in again and "工作日" in again  # the item from before the take-over, and its time limit


def test_two_operators_cannot_take_the_same_conversation(console_stack, admin, empty_queue):
    operator = empty_queue
    citizen = Citizen(console_stack.url)
    citizen.say("转人工")
    assert operator.post(f"/console/api/conversations/{citizen.id}/take").status_code == 200
    refused = admin.post(f"/console/api/conversations/{citizen.id}/take")
    assert refused.status_code == 409 and "已由3号坐席接入" in refused.json()["error"]


NONSENSE = ["xyz123abc", "哦哦哦哦哦", "qwertyuiop", "咕噜咕噜咕噜", "asdf jkl", "呜啦啦啦啦", "zzzzzz", "叽里咕噜",
            "abc abc abc", "嗯啊哦呃", "lalala", "%%%%"]


def nonsense_the_model_does_not_understand(stack, count: int) -> list[str]:
    """Texts this trained model sends to nlu_fallback, asked of its own /model/parse, so a retrain that
    happens to read one of them as an intent does not break the two-fallbacks trigger test."""
    found = [t for t in NONSENSE
             if httpx.post(f"http://127.0.0.1:{stack.rasa_port}/model/parse", json={"text": t}, timeout=30).json()["intent"]["name"] == "nlu_fallback"]
    assert len(found) >= count, f"the model understood almost every nonsense text; fallbacks: {found}"
    return found[:count]


def test_triggers_with_the_real_model(console_stack, empty_queue):
    operator = empty_queue
    asked, angry, urgent, puzzled = (Citizen(console_stack.url) for _ in range(4))
    assert "当前排在第1位" in texts(asked.say("我要人工客服"))
    complaint = texts(angry.say("我要投诉你们窗口，工作人员态度太差了"))  # an appeal: taken by the intake form, not queued
    assert "投诉工单" in complaint and "当前排在" not in complaint
    sensitive = texts(urgent.say("我真的不想活了"))
    assert "110" in sensitive and "当前排在第1位" in sensitive
    first, second = nonsense_the_model_does_not_understand(console_stack, 2)
    assert "没太明白" in texts(puzzled.say(first))  # nlu_fallback twice in a row
    fallback = texts(puzzled.say(second))
    assert "连续两次没能理解" in fallback and "当前排在第3位" in fallback
    waiting = operator.get("/console/api/queue").json()["waiting"]
    assert [(w["conversation_id"], w["reason"]) for w in waiting] == [
        (urgent.id, "sensitive"), (asked.id, "asked"), (puzzled.id, "fallback")]
    assert "我真的不想活了" not in [e.get("text") for e in tracker(console_stack, urgent.id)["events"]]  # never sent to the bot


def test_off_duty_work_order_then_goodbye_and_a_rating_with_the_real_model(console_stack, admin, empty_queue):
    operator = empty_queue
    hour = dt.datetime.now(TZ).hour
    later = f"{(hour + 2) % 24:02d}:00-{(hour + 2) % 24:02d}:30"  # a span that does not include now
    assert admin.post("/console/api/admin/settings", {"duty_hours": later, "duty_days": "every_day", "sensitive_words": "不想活"}).status_code == 200
    try:
        citizen = Citizen(console_stack.url)
        offer = citizen.say("转人工")
        assert "现在不是在线人工客服的服务时间" in texts(offer) and [b["title"] for b in offer[-1]["buttons"]][:2] == ["留言", "预约回电"]
        assert "请简单说明" in texts(citizen.say("预约回电"))
        citizen.say("想问城乡居民养老保险一年交多少")
        created = texts(citizen.say("0833-5123456"))
        number = re.search(r"GD\d{10}", created).group(0)
        order = operator.get(f"/console/api/work-orders/{number}").json()
        assert order["category_label"] == "预约回电" and order["contact_phone"] == "0833-***3456" and "养老保险" in order["description"]
        assert "待处理" in texts(citizen.say(f"{number}现在什么进度"))

        bye = citizen.say("再见")
        assert "请您对本次服务做个评价" in texts(bye) and [b["title"] for b in bye[-1]["buttons"]][-1] == "非常不满意"
        rated = texts(citizen.say("非常不满意"))
        review = re.search(r"GD\d{10}", rated).group(0)
        assert "很抱歉这次没能让您满意" in rated
        assert operator.get(f"/console/api/work-orders/{review}").json()["category_label"] == "差评回访"
    finally:
        admin.post("/console/api/admin/settings", {"duty_hours": "00:00-24:00", "duty_days": "every_day", "sensitive_words": "不想活"})
