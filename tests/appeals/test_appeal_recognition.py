"""An appeal that starts as a question: when the guides have no answer and the text describes a problem for a
department, the assistant offers to file it (the offer's button starts the intake form)."""
import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.guides import not_found
from bot import services
from bot.appeals.office import AppealOffice


@pytest.fixture(scope="module")
def office():
    return AppealOffice(database=None, deliveries=None)


@pytest.mark.parametrize("text, department", [
    ("楼下餐馆油烟太大，熏得窗户都打不开，归哪个部门管", "乐山市夹江生态环境局"),
    ("公司拖欠了我们三个月工资，怎么办", "县人力资源和社会保障局"),
])
def test_a_problem_for_a_department_is_recognised_with_its_route(office, text, department):
    recognised = office.recognise(text)
    assert recognised is not None and recognised.department_name == department


@pytest.mark.parametrize("text", ["驾驶证换证要什么材料", "我想问一下护照怎么办", "身份证丢了怎么补办", "漏了"])
def test_a_service_question_or_a_fragment_is_not_taken_for_an_appeal(office, text):
    assert office.recognise(text) is None


def test_the_not_found_answer_offers_the_appeal_and_otherwise_the_way_onward(office, monkeypatch):
    monkeypatch.setattr(services, "_current", type("Running", (), {"appeals": office})())
    offered = CollectingDispatcher()
    not_found(offered, "我们村那条路垮了一大半，车都过不去，找哪个部门")
    assert "登记诉求工单" in offered.messages[0]["text"]
    assert [b["payload"] for b in offered.messages[0]["buttons"]] == ["/complain", "/deny"]
    plain = CollectingDispatcher()
    not_found(plain, "驾驶证换证要什么材料")
    assert "知识库里没有找到" in plain.messages[0]["text"]
