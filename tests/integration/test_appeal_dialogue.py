"""Appeals (诉求) by chat through the real app and the real trained Rasa model: the intake form asks only what is
missing, reads the order back, files it (the number is in the database when the citizen is told it), takes a
correction at the read-back, and files nothing when the citizen cancels."""
from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import create_engine, text

NUMBER = re.compile(r"GD\d{10}")


def texts(replies: list[dict]) -> str:
    return "\n".join(r["text"] or "" for r in replies)


@pytest.fixture(scope="module")
def orders(stack):
    """The stack's work_orders table: orders(**where) → the appeal rows that match."""
    engine = create_engine(stack.extra_env["DATABASE_URL"])

    def find(**where) -> list[dict]:
        condition = " and ".join(f"{column} = :{column}" for column in where)
        with engine.connect() as connection:
            return [dict(row) for row in connection.execute(
                text(f"select * from work_orders where category = 'appeal' and {condition}"), where).mappings()]

    yield find
    engine.dispose()


def filed(replies: list[dict], orders) -> dict:
    said = texts(replies)
    assert "已登记" in said and "工单编号" in said, said
    number = NUMBER.search(said).group(0)
    rows = orders(number=number)
    assert len(rows) == 1, number
    return rows[0]


def test_a_complete_appeal_in_one_message_is_read_back_and_filed(chat, orders):
    first = texts(chat("我要投诉，漹城街道东风路的烧烤摊半个月了天天半夜吵得人睡不着，希望晚上十点以后别再营业"))
    assert "投诉工单" in first and "手机号" in first and "发生了什么" not in first  # only the contact was missing
    read_back = chat("13812341234")
    said = texts(read_back)
    assert "请核对" in said and "138****1234" in said and "13812341234" not in said
    for part in ("烧烤摊", "漹城街道东风路", "半个月了", "希望晚上十点以后别再营业", "类型：投诉"):
        assert part in said, said
    assert [b["title"] for b in read_back[-1]["buttons"]] == ["确认提交", "修改"]

    order = filed(chat("确认提交"), orders)
    assert order["appeal_type"] == "投诉" and order["place"] == "漹城街道东风路" and order["since"] == "半个月了"
    assert "烧烤摊" in order["description"] and order["wish"] == "希望晚上十点以后别再营业"
    assert order["contact_phone"] == "13812341234" and order["status"] in ("dispatched", "review") and order["department"]
    assert order["due_at"] is not None and order["conversation_id"] and order["channel"] == order["conversation_id"].split("-")[0]


def test_missing_details_are_asked_one_by_one(chat, orders):
    assert "发生了什么事" in texts(chat("我要投诉"))
    asked = texts(chat("小区里的垃圾好几天都没人收了，臭得很"))
    assert "地点" in asked and "工单" in asked  # since when was told with the account: not asked
    asked = texts(chat("幸福家园小区"))
    assert "希望怎么解决" in asked and "工单" in asked
    asked = texts(chat("希望尽快派人来清运"))
    assert "手机号" in asked and "工单" in asked
    said = texts(chat("我姓刘，13912345678"))
    assert "幸福家园小区" in said and "好几天" in said and "139****5678" in said
    order = filed(chat("对的，提交吧"), orders)
    assert (order["place"], order["since"], order["wish"], order["contact_phone"], order["contact_name"]) == (
        "幸福家园小区", "好几天", "希望尽快派人来清运", "13912345678", "刘")


def test_an_anonymous_report_is_filed_without_a_phone(chat, orders):
    first = texts(chat("我要举报，有人晚上偷偷在河边挖沙"))
    assert "举报工单" in first and "地点" in first
    assert "什么时候" in texts(chat("甘江镇那段河边"))
    assert "希望怎么解决" in texts(chat("上个星期开始的"))
    contact = texts(chat("希望严厉查处"))
    assert "匿名" in contact and "举报" in contact
    said = texts(chat("匿名"))
    assert "匿名" in said and "类型：举报" in said
    replies = chat("确认提交，再见")
    order = filed(replies, orders)
    assert order["appeal_type"] == "举报" and order["contact_phone"] == "" and order["place"] == "甘江镇"
    assert "再见" in texts(replies) and "评价" in texts(replies)  # the goodbye and the rating invitation, as after any goodbye


def test_a_place_corrected_at_the_read_back_is_filed_corrected(chat, orders):
    assert "地点" in texts(chat("村里的路灯坏了好几天了，晚上走路看不见，我要反映"))
    assert "希望怎么解决" in texts(chat("马村镇"))
    said = texts(chat("希望赶紧修好，电话13712345678"))
    assert "请核对" in said and "马村镇" in said
    again = texts(chat("地点不对，是黄土镇新华村"))
    assert "改过来了" in again and "黄土镇新华村" in again and "马村镇" not in again
    order = filed(chat("确认"), orders)
    assert order["place"] == "黄土镇新华村" and order["contact_phone"] == "13712345678"


def test_cancelled_at_the_read_back_files_nothing(chat, orders):
    marker = uuid.uuid4().hex[:8]
    chat(f"我要投诉，小区物业乱涨停车费（{marker}），业主都不同意")
    chat("漹城街道滨江小区")
    chat("这个月开始的")
    chat("希望退回多收的钱")
    assert "请核对" in texts(chat("匿名"))
    said = texts(chat("算了，不投诉了"))
    assert "没有登记" in said and not NUMBER.search(said)
    assert [o for o in orders(category="appeal") if marker in o["description"]] == []
    assert "居民身份证" in texts(chat("身份证丢了怎么补办"))  # the form is over: questions are answered again


def test_cancelling_during_the_form_ends_it(chat, orders):
    chat("我要投诉")
    said = texts(chat("算了"))
    assert "没有登记" in said
    assert "居民身份证" in texts(chat("身份证丢了怎么补办"))


def test_the_offers_button_files_the_question_before_it(chat, orders):
    first = chat("黄土镇新华村停水三天了，找哪个部门")  # an appeal at once, or offered with a button (/complain)
    if any(b["payload"] == "/complain" for reply in first for b in reply["buttons"]):
        first = chat("/complain")
    asked = texts(first)
    assert "投诉工单" in asked and "希望怎么解决" in asked  # what, where and since when came with the question
    chat("希望尽快恢复供水")
    said = texts(chat("匿名"))
    assert "黄土镇新华村" in said and "三天了" in said and "停水" in said
    order = filed(chat("确认提交"), orders)
    assert order["place"] == "黄土镇新华村" and "停水" in order["description"]


@pytest.mark.parametrize("answer", ["要得", "在甘江镇一个砖厂 十几个工人都没拿到"])
def test_a_yes_or_more_about_the_problem_takes_up_the_offer(chat, orders, answer):
    first = texts(chat("老板欠我们工资三个月了 就是不给 咋个办嘛"))
    assert "需要登记吗" in first, first  # offered, not filed at once
    taken = texts(chat(answer))
    assert "投诉工单" in taken and "发生了什么" not in taken, taken  # the problem told before the offer is the matter
