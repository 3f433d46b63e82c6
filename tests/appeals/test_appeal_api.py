"""Appeals through the running app (Rasa replaced by the handoff tests' fake; the appeal classifier is the real one,
trained on bot/appeals/training/): the classify endpoint and who may call it, and a department's answer reaching the
citizen's web chat with the rating question, a 不满意 reopening the order, the status query, and an answer retried
until its channel takes it."""
import re

import pytest

from bot.appeals.service import Intake
from bot.delivery import ChannelUnavailable
from bot.handoff.models import WorkOrder
from bot.messages import Reply
from tests.handoff.conftest import (  # noqa: F401  (fixtures)
    HTTPS,
    Citizen,
    Operator,
    admin_and_operator,
    app_client,
    fake_rasa,
    login,
    other_client,
    texts,
)

TOKEN = "county-systems-token-for-tests-0123456789"


@pytest.fixture
def office(app_client):  # noqa: F811
    return app_client.app.state.services.appeals


def test_classify_needs_a_console_session_or_the_systems_token_and_checks_its_input(app_client, monkeypatch):  # noqa: F811
    outsider = other_client(app_client)
    body = {"text": "老板拖欠我们工地上十几个人三个月工资了，一直拖着不给"}
    assert outsider.post("/api/appeals/classify", json=body).status_code == 401
    monkeypatch.setattr(app_client.app.state.settings, "appeals_api_token", type(app_client.app.state.settings.secret_key)(TOKEN))
    assert outsider.post("/api/appeals/classify", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = outsider.post("/api/appeals/classify", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["category1"], result["department"]) == ("劳动和社会保障", "县人力资源和社会保障局")
    assert 0 < result["confidence"] <= 1 and result["reasons"] and len(result["alternatives"]) == 3
    too_long = outsider.post("/api/appeals/classify", json={"text": "吵" * 4001}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert too_long.status_code == 422
    blank = outsider.post("/api/appeals/classify", json={"text": "   "}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert blank.status_code == 422 and "不能为空" in blank.text
    admin, _ = admin_and_operator(app_client)
    assert admin.post("/api/appeals/classify", json=body).status_code == 200  # a console session is enough


def test_the_department_answer_reaches_the_citizen_who_rates_it_and_a_low_rating_reopens_it(app_client, office):  # noqa: F811
    citizen = Citizen(app_client)
    order = office.file(Intake(what="我们小区门口的路灯坏了半个月，晚上黑黢黢的，老人摔了两次", place="漹城街道迎春路",
                               since="半个月", wish="尽快修好"), "webchat", citizen.id)
    admin, operator = admin_and_operator(app_client)
    created = admin.post("/console/api/admin/operators", {"username": "zhifa1", "role": "department", "department": "zhifa",
                                                          "password": "Dept-pass-2026", "display_name": "执法局"})
    assert created.status_code == 201, created.text
    bad = admin.post("/console/api/admin/operators", {"username": "x1", "role": "department", "department": "nowhere",
                                                      "password": "Dept-pass-2026"})
    assert bad.status_code == 422 and "nowhere" in bad.text
    dispatched = operator.post(f"/console/api/appeals/{order.number}/dispatch",
                               {"category1": "城乡建设", "category2": "城市建设和市政管理"})
    assert dispatched.status_code == 200 and dispatched.json()["department"] == "县综合行政执法局"
    department = _Department(app_client, "zhifa1", "Dept-pass-2026")
    assert department.get("/console/api/work-orders").status_code == 403  # only its appeals
    listed = department.get("/console/api/appeals").json()["appeals"]
    assert [a["number"] for a in listed] == [order.number]
    assert department.post(f"/console/api/appeals/{order.number}/dispatch", {}).status_code == 403
    assert department.post(f"/console/api/appeals/{order.number}/accept").status_code == 200
    answered = department.post(f"/console/api/appeals/{order.number}/reply", {"text": "已安排维修人员更换灯具，今晚恢复照明。"})
    assert answered.status_code == 200 and answered.json()["delivered"] is True
    shown = texts(citizen.inbox())
    assert "县综合行政执法局答复如下" in shown and "已安排维修人员更换灯具" in shown and "不满意" in shown
    reply = texts(citizen.say("不满意"))
    assert "重新交给热线审核" in reply
    with app_client.app.state.database.session() as session:
        stored = session.query(WorkOrder).filter_by(number=order.number).one()
        assert stored.status == "review" and stored.reply_delivered_at is not None
    status = texts(citizen.say(f"我的工单 {order.number} 怎么样了"))
    assert order.number in status and "待派单" in status and "办理期限" in status


def deliver(client, number: str) -> bool:
    """The office's delivery, run on the app's own event loop (as the worker and the views run it)."""
    return client.portal.call(client.app.state.services.appeals.deliver_answer, number)


class _Department(Operator):
    """A department account: it logs in and reads the CSRF token from the console page it lands on."""

    def __init__(self, client, username: str, password: str):
        self.client = other_client(client)
        login(self.client, username, password)
        page = self.client.get("/console", follow_redirects=True)
        self.csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)


def test_an_answer_the_channel_cannot_take_now_is_retried_until_delivered(app_client, office):  # noqa: F811
    from bot.conversations.service import get_or_create_conversation

    with app_client.app.state.database.session() as session:
        conversation_id = get_or_create_conversation(db_session=session, channel="wechat", sender="o-citizen-1").id
    order = office.file(Intake(what="菜市场门口的下水道堵了，污水漫到路上", place="甘江镇"), "wechat", conversation_id)
    attempts: list[Reply] = []

    async def flaky(target: str, reply: Reply) -> None:
        attempts.append(reply)
        if len(attempts) == 1:
            raise ConnectionError("WeChat API timed out")

    office.deliveries.register("wechat", flaky)
    with app_client.app.state.database.session() as session:
        stored = session.query(WorkOrder).filter_by(number=order.number).one()
        stored.status, stored.reply = "replied", "已疏通下水道并清理路面。"
    assert deliver(app_client, order.number) is False
    assert office.check_once()[2] == [order.number]  # still to deliver: the worker's next pass sends it again
    assert deliver(app_client, order.number) is True
    assert office.check_once()[2] == [] and len(attempts) == 2 and "已疏通下水道" in attempts[1].text

    async def gone(target: str, reply: Reply) -> None:
        raise ChannelUnavailable("48-hour window closed")

    office.deliveries.register("wechat", gone)  # a channel that can never deliver: kept for the status query, not retried
    with app_client.app.state.database.session() as session:
        stored = session.query(WorkOrder).filter_by(number=order.number).one()
        stored.reply_delivered_at = None
    assert deliver(app_client, order.number) is True


def test_operator_assist_offers_the_grounded_answer_and_files_the_appeal_with_one_click(app_client):  # noqa: F811
    admin, operator = admin_and_operator(app_client)
    citizen = Citizen(app_client)
    citizen.say("转人工")
    assert operator.post(f"/console/api/conversations/{citizen.id}/take").status_code == 200
    citizen.say("低保要什么材料")
    helped = operator.get(f"/console/api/conversations/{citizen.id}/assist").json()
    assert helped["answer"]["item"] == "最低生活保障" and helped["answer"]["aspect"] == "materials"
    assert helped["answer"]["text"].startswith("【最低生活保障】") and "需要准备以下材料" in helped["answer"]["text"]
    assert helped["matches"][0]["item"] == "最低生活保障"
    citizen.say("我们村的自来水停了三天了，打电话给水厂一直没人来修，电话13981112222")
    helped = operator.get(f"/console/api/conversations/{citizen.id}/assist").json()
    suggestion = helped["appeal"]
    assert suggestion["category1"] == "城乡建设" and suggestion["department"] and suggestion["reasons"]
    assert "139****2222" in helped["question"]  # masked for the screen
    filed = operator.post(f"/console/api/conversations/{citizen.id}/appeal",
                          {"what": "村里自来水停了三天，水厂一直没人来修", "place": "三洞镇", "appeal_type": "求助",
                           "category1": suggestion["category1"], "category2": suggestion["category2"],
                           "department": suggestion["department_code"]})
    assert filed.status_code == 201, filed.text
    number = filed.json()["number"]
    assert filed.json()["status"] == "dispatched" and number in texts(citizen.inbox())
    outsider = Citizen(app_client)  # a conversation this operator does not serve: nothing is filed for it
    refused = operator.post(f"/console/api/conversations/{outsider.id}/appeal", {"what": "随便写点什么内容"})
    assert refused.status_code == 404


def test_a_phone_caller_hears_back_by_sms_and_an_anonymous_caller_in_the_status_query(app_client, office):  # noqa: F811
    from bot.conversations.service import get_or_create_conversation

    with app_client.app.state.database.session() as session:
        call = get_or_create_conversation(db_session=session, channel="voice", sender="CA0001").id
    sent: list[tuple[str, str]] = []

    async def sms(target: str, reply: Reply) -> None:
        sent.append((target, reply.text))

    office.deliveries.register("sms", sms)
    known = office.file(Intake(what="我们组的水渠垮了一段，灌不到水", place="新场镇", contact_phone="13981112222"), "voice", call)
    anonymous = office.file(Intake(what="有人在河边偷偷采砂", place="迎江乡", appeal_type="举报"), "voice", call)
    with app_client.app.state.database.session() as session:
        for number in (known.number, anonymous.number):
            stored = session.query(WorkOrder).filter_by(number=number).one()
            stored.status, stored.reply = "replied", "已派人到现场处理，并安排修复。"
    assert deliver(app_client, known.number) and deliver(app_client, anonymous.number)
    assert len(sent) == 1 and sent[0][0] == "13981112222"
    assert sent[0][1].startswith("【夹江12345】") and known.number in sent[0][1] and "已派人到现场处理" in sent[0][1]
    assert office.check_once()[2] == []
