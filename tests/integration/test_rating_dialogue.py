"""Ratings (服务评价) are Rasa's rating_form (actions/ratings.py), against the real trained model through the app: after a
goodbye the level as the option's number and a comment; after an operator closes the conversation, the app triggers
offer_rating and the rating is stored against that handoff; a question instead of a level is answered as usual."""
from __future__ import annotations

import re

import pytest

from tests.integration.conftest import CONSOLE_ADMIN, CONSOLE_ADMIN_PASSWORD
from tests.integration.console_helpers import Citizen, ConsoleUser, texts


@pytest.fixture(scope="module")
def admin(console_stack):
    user = ConsoleUser(console_stack.url, CONSOLE_ADMIN, CONSOLE_ADMIN_PASSWORD)
    yield user
    user.close()


def ratings_of(admin: ConsoleUser, citizen: Citizen) -> list[dict]:
    return [r for r in admin.get("/console/api/ratings").json()["ratings"] if r["conversation_id"] == citizen.id]


def test_after_a_goodbye_the_option_number_rates_and_a_comment_goes_to_the_review(console_stack, admin):
    citizen = Citizen(console_stack.url)
    assert "居民身份证" in texts(citizen.say("身份证丢了补办要带什么"))
    bye = citizen.say("好的谢谢，再见")
    assert "请您对本次服务做个评价" in texts(bye) and len(bye[-1]["buttons"]) == 5
    rated = texts(citizen.say("4"))  # the fourth option: 不满意
    assert "很抱歉这次没能让您满意" in rated
    review = re.search(r"GD\d{10}", rated).group(0)
    assert "已记录您的意见" in texts(citizen.say("材料清单写得不清楚，白跑一趟"))
    order = admin.get(f"/console/api/work-orders/{review}").json()
    assert order["category_label"] == "差评回访" and "白跑一趟" in order["description"]
    assert [(r["level"], r["comment"], r["handoff_id"]) for r in ratings_of(admin, citizen)] == [
        ("不满意", "材料清单写得不清楚，白跑一趟", None)]
    again = citizen.say("再见")
    assert "再见" in texts(again) and "评价" not in texts(again)  # rated a moment ago: not asked again


def test_after_an_operator_closes_the_rating_is_of_that_handoff(console_stack, admin):
    citizen = Citizen(console_stack.url)
    assert "当前排在" in texts(citizen.say("我要人工客服"))
    base = f"/console/api/conversations/{citizen.id}"
    assert admin.post(f"{base}/take").status_code == 200
    assert admin.post(f"{base}/close", {"category": "办事咨询", "summary": "已解答"}).status_code == 200
    offer = citizen.inbox()
    assert "本次人工服务已结束" in texts(offer) and "请您对人工客服的服务做个评价" in texts(offer)
    assert "感谢您的评价（满意）" in texts(citizen.say("2"))
    assert "已记录您的意见" in texts(citizen.say("客服很耐心，讲得很清楚"))
    (rating,) = ratings_of(admin, citizen)
    assert rating["level"] == "满意" and rating["comment"] == "客服很耐心，讲得很清楚" and rating["handoff_id"] is not None
    assert "客服很耐心" in admin.get("/console/ratings").text
    assert "居民身份证" in texts(citizen.say("身份证丢了怎么补办"))  # the form is over: the bot answers again


def test_a_question_instead_of_a_level_is_answered_and_nothing_is_rated(console_stack, admin):
    citizen = Citizen(console_stack.url)
    assert "请您对本次服务做个评价" in texts(citizen.say("再见"))
    answer = texts(citizen.say("对了，社保卡丢了怎么补办"))
    assert "社会保障卡" in answer and "感谢您的评价" not in answer
    assert ratings_of(admin, citizen) == []
    skipped = texts(citizen.say("我要评价"))
    assert "请您对本次服务做个评价" in skipped
    assert "好的，感谢您的使用" in texts(citizen.say("不用了"))
    assert ratings_of(admin, citizen) == []
