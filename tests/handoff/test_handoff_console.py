"""The operator console and the handoff flows through the app (Rasa faked over MockTransport; the real
model's pause/resume and dialogue are in tests/integration/test_handoff.py)."""
import asyncio
import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.clock import TZ, utcnow
from bot.handoff.models import Operator as OperatorModel
from tests.handoff.conftest import ADMIN, ADMIN_PASSWORD, HTTPS, Citizen, Operator, admin_and_operator, login, other_client, texts


def queue(operator: Operator) -> dict:
    response = operator.get("/console/api/queue")
    assert response.status_code == 200, response.text
    return response.json()


# --- access -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/console", "/console/work-orders", "/console/ratings", "/console/admin/users",
                                  "/console/admin/settings", "/console/admin/audit", "/console/conversations/webchat-x",
                                  "/console/work-orders/GD2611250001"])
def test_no_console_page_without_login(app_client, path):
    response = app_client.get(path, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/console/login?next=")


@pytest.mark.parametrize("method, path", [("GET", "/console/api/queue"), ("GET", "/console/api/work-orders"),
                                          ("GET", "/console/api/ratings"), ("POST", "/console/api/conversations/x/take"),
                                          ("GET", "/console/api/admin/operators"), ("GET", "/console/api/admin/export/ratings.csv")])
def test_no_api_without_login(app_client, method, path):
    response = app_client.request(method, path, json={})
    assert response.status_code == 401 and "登录" in response.json()["error"]


def test_login_cookie_is_secure_httponly_and_strict_and_passwords_are_checked(app_client):
    wrong = login(app_client, ADMIN, "not-the-password")
    assert wrong.status_code == 401 and "用户名或密码不正确" in wrong.text
    assert "jj_console" not in wrong.headers.get("set-cookie", "")
    unknown = login(app_client, "nobody", "whatever-123")
    assert unknown.status_code == 401 and "用户名或密码不正确" in unknown.text  # the same answer as a wrong password
    ok = login(app_client, ADMIN, ADMIN_PASSWORD)
    assert ok.status_code == 303
    cookie = [c for c in ok.headers.get_list("set-cookie") if c.startswith("__Host-jj_console=")][0].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    page = app_client.get("/console")
    assert page.status_code == 200 and "坐席工作台" in page.text
    assert page.headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_the_login_form_needs_its_own_token(app_client):
    response = app_client.post("/console/login", data={"username": ADMIN, "password": ADMIN_PASSWORD}, follow_redirects=False)
    assert response.status_code == 403 and "页面已过期" in response.text
    assert app_client.get("/console", follow_redirects=False).status_code == 303


def test_wrong_passwords_slow_down_one_address_without_locking_the_operator_out_or_revealing_names(app_client):
    admin, operator = admin_and_operator(app_client)
    attacker = TestClient(app_client.app, base_url=HTTPS, client=("203.0.113.9", 40000))
    for _ in range(5):
        assert "用户名或密码不正确" in login(attacker, "wang", "wrong-password-1").text
        assert "用户名或密码不正确" in login(attacker, "nobody-here", "wrong-password-1").text
    slowed, unknown = login(attacker, "wang", "Operator-pass-1"), login(attacker, "nobody-here", "x")
    assert slowed.status_code == unknown.status_code == 429
    message = re.compile(r'class="error"[^>]*>([^<]+)<')
    assert message.search(slowed.text).group(1) == message.search(unknown.text).group(1)  # existing or not: same answer
    assert operator.get("/console/api/queue").status_code == 200  # the operator's session goes on
    assert login(other_client(app_client), "wang", "Operator-pass-1").status_code == 303  # and logs in from elsewhere
    listed = {o["username"]: o for o in admin.get("/console/api/admin/operators").json()["operators"]}
    assert listed["wang"]["locked"]
    assert admin.post(f"/console/api/admin/operators/{listed['wang']['id']}", {"action": "unlock"}).status_code == 200
    assert login(attacker, "wang", "Operator-pass-1").status_code == 303
    failures = admin.get("/console/api/admin/audit?action=login_failed").json()["entries"]
    assert len([e for e in failures if e["target"] == "wang"]) == 5


def test_a_disabled_or_locked_account_loses_its_session(app_client):
    admin, operator = admin_and_operator(app_client)
    assert operator.get("/console/api/queue").status_code == 200
    with app_client.app.state.database.session() as session:
        session.scalar(select(OperatorModel).where(OperatorModel.username == "wang")).locked_until = utcnow() + dt.timedelta(hours=1)
    assert operator.get("/console/api/queue").status_code == 401


@pytest.mark.parametrize("path", ["/console/admin/users", "/console/admin/settings", "/console/admin/audit"])
def test_an_operator_cannot_reach_admin_pages(app_client, path):
    admin, operator = admin_and_operator(app_client)
    refused = operator.get(path)
    assert refused.status_code == 403 and "只有管理员" in refused.text
    assert admin.get(path).status_code == 200


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/console/api/admin/operators", None), ("GET", "/console/api/admin/settings", None),
    ("GET", "/console/api/admin/audit", None), ("GET", "/console/api/admin/export/work-orders.csv", None),
    ("POST", "/console/api/admin/operators", {"username": "sneaky", "role": "admin", "password": "Sneaky-pass-1"}),
    ("POST", "/console/api/admin/settings", {"duty_hours": "00:00-24:00", "duty_days": "every_day", "sensitive_words": ""}),
])
def test_an_operator_cannot_use_the_admin_api(app_client, method, path, body):
    _admin, operator = admin_and_operator(app_client)
    response = operator.post(path, body) if method == "POST" else operator.get(path)
    assert response.status_code == 403 and "管理员" in response.json()["error"]


def test_changes_need_the_csrf_token_and_the_same_origin(app_client):
    admin, operator = admin_and_operator(app_client)
    citizen = Citizen(app_client)
    citizen.say("转人工")
    take = f"/console/api/conversations/{citizen.id}/take"
    missing = operator.client.post(take, json={})
    wrong = operator.client.post(take, json={}, headers={"X-CSRF-Token": "forged"})
    foreign = operator.post(take, headers={"Origin": "https://evil.example"})
    for response in (missing, wrong, foreign):
        assert response.status_code == 403 and "安全校验失败" in response.json()["error"]
    assert queue(operator)["waiting"][0]["conversation_id"] == citizen.id  # nothing happened
    logout = operator.client.post("/console/logout", data={}, follow_redirects=False)
    assert logout.status_code == 403 and operator.get("/console").status_code == 200  # still logged in
    assert operator.post(take).status_code == 200


def test_logout_ends_the_session_and_the_presence(app_client):
    admin = Operator(app_client, ADMIN, ADMIN_PASSWORD)
    assert queue(admin)["duty"]["online"] == 1
    out = app_client.post("/console/logout", data={"csrf_token": admin.csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/console/login"
    assert app_client.get("/console/api/queue").status_code == 401
    citizen = Citizen(app_client)
    assert "暂时都不在座位上" in texts(citizen.say("转人工"))  # nobody on duty any more


# --- escalation and the queue ---------------------------------------------------------------------

def test_asking_for_a_person_queues_with_position_and_wait(app_client):
    _admin, operator = admin_and_operator(app_client)
    first, second = Citizen(app_client), Citizen(app_client)
    reply = texts(first.say("转人工"))
    assert "正在为您转接人工客服" in reply and "当前排在第1位" in reply and "预计等待约" in reply
    reply = texts(second.say("转人工"))
    assert "当前排在第2位" in reply and "您前面还有1位" in reply
    assert "机器人答复" in texts(second.say("社保卡怎么补办"))  # the bot still answers while waiting
    waiting = queue(operator)["waiting"]
    assert [(w["conversation_id"], w["position"], w["reason_label"]) for w in waiting] == [
        (first.id, 1, "要求人工"), (second.id, 2, "要求人工")]
    assert waiting[1]["last_message"] == "社保卡怎么补办"


def test_a_complaint_is_served_first(app_client):
    _admin, operator = admin_and_operator(app_client)
    first, angry = Citizen(app_client), Citizen(app_client)
    first.say("转人工")
    reply = texts(angry.say("我要投诉"))
    assert "非常抱歉" in reply and "优先" in reply and "当前排在第1位" in reply
    again = texts(first.say("转人工"))
    assert "您已经在排队" in again and "当前排在第2位" in again
    waiting = queue(operator)["waiting"]
    assert [w["conversation_id"] for w in waiting] == [angry.id, first.id] and waiting[0]["priority"] == 1


def test_two_fallbacks_in_a_row_reach_a_person(app_client):
    admin_and_operator(app_client)
    citizen = Citizen(app_client)
    assert "没太明白" in texts(citizen.say("嗯嗯嗯"))
    reply = texts(citizen.say("嗯嗯嗯嗯"))
    assert "连续两次没能理解" in reply and "当前排在第1位" in reply


def test_sensitive_words_go_to_a_person_without_the_bot(app_client, fake_rasa):
    admin, operator = admin_and_operator(app_client)
    citizen = Citizen(app_client)
    reply = texts(citizen.say("我真的不想活了"))
    assert "110" in reply and "优先" in reply and "当前排在第1位" in reply
    assert "我真的不想活了" not in fake_rasa.logged.get(citizen.id, [])
    waiting = queue(operator)["waiting"][0]
    assert waiting["reason_label"] == "敏感话题" and waiting["priority"] == 2
    saved = admin.post("/console/api/admin/settings", {"duty_hours": "00:00-24:00", "duty_days": "every_day",
                                                       "sensitive_words": "自杀\n煤气泄漏"})
    assert saved.status_code == 200 and saved.json()["sensitive_words"] == ["自杀", "煤气泄漏"]
    other = Citizen(app_client)
    assert "110" in texts(other.say("楼下好像煤气泄漏了"))
    assert "机器人答复" in texts(Citizen(app_client).say("我不想活了"))  # no longer on the list


def test_the_citizen_can_leave_the_queue(app_client):
    _admin, operator = admin_and_operator(app_client)
    citizen = Citizen(app_client)
    citizen.say("转人工")
    assert "已为您取消人工排队" in texts(citizen.say("取消排队"))
    assert queue(operator)["waiting"] == []


# --- take over, two-way messages, hand back, close, rate ------------------------------------------

def test_take_over_talk_hand_back_close_and_rate(app_client, fake_rasa):
    admin, operator = admin_and_operator(app_client)
    citizen = Citizen(app_client)
    citizen.say("转人工")
    base = f"/console/api/conversations/{citizen.id}"
    taken = operator.post(f"{base}/take")
    assert taken.status_code == 200 and taken.json()["bot_paused"]
    assert fake_rasa.events == [(citizen.id, "pause")]
    assert "人工客服（8号坐席）已接入" in texts(citizen.inbox())
    assert queue(operator)["active"][0]["mine"] and queue(admin)["active"][0]["operator"] == "8号坐席"

    assert citizen.say("我的身份证号是511126199001011234，手机13812345678") == []  # no bot answer in operator mode
    assert fake_rasa.logged[citizen.id][-1].startswith("我的身份证号")  # still logged in the paused tracker
    transcript = operator.get(f"{base}/messages").json()
    last = transcript["messages"][-1]
    assert last["sender"] == "citizen" and "511126********1234" in last["text"] and "138****5678" in last["text"]
    assert transcript["handoff"]["status"] == "active" and transcript["handoff"]["mine"]

    sent = operator.post(f"{base}/messages", {"text": "您好，我是8号坐席，已收到您的信息。"})
    assert sent.status_code == 200
    pushed = citizen.inbox()
    assert [(m["sender"], m["text"]) for m in pushed] == [("operator", "您好，我是8号坐席，已收到您的信息。")]

    assert operator.post(f"{base}/hand-back").status_code == 200
    assert fake_rasa.events == [(citizen.id, "pause"), (citizen.id, "resume")]
    assert "交还给智能助手" in texts(citizen.inbox())
    assert "机器人答复：社保卡怎么补办" in texts(citizen.say("社保卡怎么补办"))  # the bot answers again
    assert queue(operator)["returned"][0]["conversation_id"] == citizen.id

    bad = operator.post(f"{base}/close", {"category": "不存在的分类"})
    assert bad.status_code == 422
    closed = operator.post(f"{base}/close", {"category": "办事咨询", "summary": "咨询身份证补办，已解答"})
    assert closed.status_code == 200 and closed.json()["was"] == "returned"
    offer = citizen.inbox()
    assert "本次人工服务已结束" in texts(offer)
    assert [b["title"] for b in offer[-1]["buttons"]] == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    assert fake_rasa.slots[citizen.id]["rating_subject"].startswith("handoff:")  # the offer came from Rasa's action
    assert "感谢您的评价（非常满意）" in texts(citizen.say("非常满意"))
    ratings = operator.get("/console/api/ratings").json()
    assert ratings["summary"]["counts"]["非常满意"] == 1 and ratings["ratings"][0]["handoff_id"] is not None
    assert queue(operator)["returned"] == [] and queue(operator)["active"] == []
    # the comment, and the level given as the option's number, are rating_form's: tests/integration/test_rating_dialogue.py


def test_closing_an_active_conversation_resumes_the_bot(app_client, fake_rasa):
    _admin, operator = admin_and_operator(app_client)
    citizen = Citizen(app_client)
    citizen.say("转人工")
    operator.post(f"/console/api/conversations/{citizen.id}/take")
    assert operator.post(f"/console/api/conversations/{citizen.id}/close", {"category": "求助"}).json()["was"] == "active"
    assert fake_rasa.events == [(citizen.id, "pause"), (citizen.id, "resume")]
    assert "机器人答复" in texts(citizen.say("还有个问题"))


def test_two_operators_cannot_take_the_same_conversation(app_client):
    admin, operator = admin_and_operator(app_client)
    citizen = Citizen(app_client)
    citizen.say("转人工")
    base = f"/console/api/conversations/{citizen.id}"
    assert operator.post(f"{base}/take").status_code == 200
    second = admin.post(f"{base}/take")
    assert second.status_code == 409 and "已由8号坐席接入" in second.json()["error"]
    assert admin.post(f"{base}/messages", {"text": "插话"}).status_code == 403
    assert admin.post(f"{base}/hand-back").status_code == 403
    assert [m["sender"] for m in citizen.inbox()] == ["system"]  # only the one "joined" notice


def test_reveal_is_required_for_personal_data_and_is_audited(app_client):
    admin, operator = admin_and_operator(app_client)
    citizen = Citizen(app_client)
    citizen.say("我叫张三丰，电话13812345678")
    base = f"/console/api/conversations/{citizen.id}/messages"
    masked = operator.get(base).json()["messages"][0]["text"]
    assert "13812345678" not in masked and "张三丰" not in masked
    assert operator.get(base + "?reveal=true").status_code == 403
    assert operator.post(f"/console/api/conversations/{citizen.id}/reveal", {"reason": ""}).status_code == 422
    assert operator.post(f"/console/api/conversations/{citizen.id}/reveal", {"reason": "核实回电号码"}).status_code == 200
    assert operator.get(base + "?reveal=true").json()["messages"][0]["text"] == "我叫张三丰，电话13812345678"
    assert admin.get(base + "?reveal=true").status_code == 403  # a reveal is per operator
    entries = admin.get("/console/api/admin/audit?action=reveal").json()["entries"]
    assert [(e["operator"], e["target"], e["detail"]) for e in entries] == [("wang", citizen.id, "核实回电号码")]


def test_the_bots_understanding_is_shown(app_client):
    _admin, operator = admin_and_operator(app_client)
    citizen = Citizen(app_client)
    citizen.say("我叫张三丰")
    seen = operator.get(f"/console/api/conversations/{citizen.id}/understanding").json()
    assert seen["available"] and seen["turns"] == [{"text": "我叫张**", "intent": "ask_item", "confidence": 0.93}]


# --- off duty: work orders ------------------------------------------------------------------------

def off_duty(app_client, admin: Operator) -> None:
    """Working-day hours, and the desk's clock on National Day."""
    assert admin.post("/console/api/admin/settings", {"duty_hours": "08:30-12:00", "duty_days": "workdays",
                                                      "sensitive_words": "自杀"}).status_code == 200
    app_client.app.state.desk.clock = lambda: dt.datetime(2026, 10, 1, 10, 0, tzinfo=TZ)


def test_off_duty_the_offer_of_a_work_order_and_the_order_followed(app_client, fake_rasa):
    """The offer and the work order's life; the choice, description and phone are Rasa's ticket_form, tested with the
    real model in tests/integration/test_ticket_and_agency_dialogue.py."""
    admin, operator = admin_and_operator(app_client)
    off_duty(app_client, admin)
    citizen = Citizen(app_client)
    offer = citizen.say("转人工")
    assert "现在不是在线人工客服的服务时间（工作日 08:30-12:00）" in texts(offer)
    assert [b["title"] for b in offer[-1]["buttons"]] == ["留言", "预约回电", "不用了"]
    assert queue(operator)["waiting"] == []

    created = asyncio.run(app_client.app.state.desk.file_ticket(citizen.id, "message", "我家门口的路灯坏了一个月了", "13812345678"))
    number = re.search(r"GD\d{10}", created.text).group(0)
    assert "已为您登记工单" in created.text and "留言" in created.text
    listed = operator.get("/console/api/work-orders?status=new").json()["work_orders"]
    assert [(o["number"], o["category_label"], o["contact_phone"], o["channel"]) for o in listed] == [
        (number, "留言", "138****5678", "webchat")]
    assert number in operator.get("/console/work-orders").text
    assert "待处理" in texts(citizen.say(f"我的工单{number}办得怎么样了"))

    changed = operator.post(f"/console/api/work-orders/{number}", {"assignee": "me", "reply": "已通知城管维修，预计三天内修好。"})
    assert changed.status_code == 200 and changed.json()["status"] == "replied" and changed.json()["delivered"] is False
    assert "已通知城管维修" in texts(citizen.inbox())
    status = texts(citizen.say(number))
    assert "已答复" in status and "已通知城管维修" in status
    elsewhere = texts(Citizen(app_client).say(number))
    assert "已答复" in elsewhere and "城管" not in elsewhere  # another conversation learns the status only
    assert "没有查到" in texts(citizen.say("GD0000000000"))


def test_off_duty_a_sensitive_word_reaches_rasa_as_the_intent_only(app_client, fake_rasa):
    admin, _operator = admin_and_operator(app_client)
    off_duty(app_client, admin)
    citizen = Citizen(app_client)
    offer = texts(citizen.say("我不想活了，想自杀"))
    assert "110" in offer and "现在不是在线人工客服的服务时间" in offer
    assert fake_rasa.logged[citizen.id] == ['/request_human{"handoff_reason": "sensitive"}']  # never the words


def test_nobody_on_duty_offers_a_work_order_too(app_client):
    citizen = Citizen(app_client)  # round-the-clock hours, but no operator logged in
    assert "暂时都不在座位上" in texts(citizen.say("转人工"))


# --- 代办 -----------------------------------------------------------------------------------------

def test_an_agency_request_goes_to_rasa_as_its_item_and_its_work_order_is_revealed_only_when_asked(app_client, fake_rasa):
    """The desk recognises the request and its item; the village and contact are Rasa's agency_form (tested with the
    real model in tests/integration/test_ticket_and_agency_dialogue.py)."""
    _admin, operator = admin_and_operator(app_client)
    citizen = Citizen(app_client)
    citizen.say("我想申请代办最低生活保障")
    assert fake_rasa.logged[citizen.id] == ['/request_agency{"agency_item": "minimum-living-allowance"}']
    created = asyncio.run(app_client.app.state.desk.file_agency(citizen.id, "minimum-living-allowance", "甘江镇新华村三组",
                                                                "13912345678", "李秀英"))
    assert "已登记您的代办申请" in created.text and "最低生活保障" in created.text
    order = operator.get("/console/api/work-orders?category=agency").json()["work_orders"][0]
    assert order["item_name"] == "最低生活保障" and order["village"] == "甘江镇新华村三组"
    assert order["contact_name"] == "李**" and order["contact_phone"] == "139****5678"
    number = order["number"]
    assert operator.post(f"/console/api/work-orders/{number}/reveal", {"reason": "代办员联系群众"}).status_code == 200
    revealed = operator.get(f"/console/api/work-orders/{number}?reveal=true").json()
    assert revealed["contact_name"] == "李秀英" and revealed["contact_phone"] == "13912345678"


def test_agency_for_items_not_on_the_list_and_questions_about_proxies(app_client):
    citizen = Citizen(app_client)
    listed = citizen.say("申请代办服务")
    assert "可以代办帮办的事项" in texts(listed) and "申请代办 最低生活保障" in [b["payload"] for b in listed[-1]["buttons"]]
    assert "暂不在代办帮办服务清单" in texts(citizen.say("申请代办 个体工商户设立登记"))
    assert "机器人答复" in texts(citizen.say("身份证可以让家里人代办吗"))  # a guide question: the bot answers
    # whether a relative may go instead, said with the desk's own words (帮我代办): the guide's answer, not the desk's
    assert "机器人答复" in texts(citizen.say("我人在广东打工 屋头人能不能帮我代办无犯罪记录证明"))


def test_the_citizen_as_the_proxy_asking_what_to_bring_gets_the_guide_not_the_agency_form(app_client, fake_rasa):
    citizen = Citizen(app_client)
    citizen.say("申领老年人优待证 他本人出门不方便 我去代办要带啥子")
    assert fake_rasa.logged[citizen.id] == ["申领老年人优待证 他本人出门不方便 我去代办要带啥子"]
    # a village agent saying who asks, not asking for the service: the question goes to Rasa
    agent = Citizen(app_client)
    asked = "我是黄土镇便民中心的代办员，村上有个小伙子要去浙江进厂，厂里喊他开个证明，证明他没有犯过事，这个要带啥子？"
    agent.say(asked)
    assert fake_rasa.logged[agent.id] == [asked]
    agent.say("我是村上的代办员，帮张大爷申请代办高龄津贴")  # who asks, and the request: the desk's agency form
    assert fake_rasa.logged[agent.id][-1].startswith("/request_agency")


def test_agency_items_offer_the_service_in_their_answers(app_client, fake_rasa):
    citizen = Citizen(app_client)
    answered = citizen.say("低保要什么材料")
    assert "申请代办" in texts(answered) and {"title": "申请代办", "payload": "申请代办 最低生活保障"} in answered[-1]["buttons"]
    citizen.say("申请代办")  # the item of the answer before
    assert fake_rasa.logged[citizen.id][-1] == '/request_agency{"agency_item": "minimum-living-allowance"}'
    other = Citizen(app_client)
    assert "申请代办" not in texts(other.say("身份证要什么材料"))  # not an agency item: not offered


# --- ratings --------------------------------------------------------------------------------------

def test_goodbye_offers_a_rating_and_dissatisfaction_opens_a_review(app_client):
    _admin, operator = admin_and_operator(app_client)
    citizen = Citizen(app_client)
    bye = citizen.say("再见")
    assert "请您对本次服务做个评价" in texts(bye) and len(bye[-1]["buttons"]) == 5
    reply = texts(citizen.say("不满意"))
    number = re.search(r"GD\d{10}", reply).group(0)
    assert "很抱歉这次没能让您满意" in reply
    order = operator.get(f"/console/api/work-orders/{number}").json()
    assert order["category_label"] == "差评回访"
    ratings = operator.get("/console/api/ratings?level=不满意").json()["ratings"]
    assert ratings[0]["work_order"] == number
    assert citizen.say("再见")[-1]["text"] == "再见，祝您办事顺利！"  # rated a moment ago: not asked again


def test_asking_to_rate_offers_the_levels_and_naming_one_rates_directly(app_client):
    citizen = Citizen(app_client)
    assert "请您对本次服务做个评价" in texts(citizen.say("我要评价"))
    assert "感谢您的评价（基本满意）" in texts(citizen.say("基本满意"))
    other = Citizen(app_client)
    assert "感谢您的评价（非常满意）" in texts(other.say("服务很好，非常满意"))


# --- admin ----------------------------------------------------------------------------------------

def test_admin_pages_accounts_settings_and_audited_exports(app_client):
    admin, operator = admin_and_operator(app_client)
    assert "wang" in admin.get("/console/admin/users").text
    assert "值班时段" in admin.get("/console/admin/settings").text
    duplicate = admin.post("/console/api/admin/operators", {"username": "wang", "password": "Another-pass-1"})
    assert duplicate.status_code == 409
    weak = admin.post("/console/api/admin/operators", {"username": "zhao", "password": "123"})
    assert weak.status_code == 422 and "密码" in weak.json()["error"]
    bad_hours = admin.post("/console/api/admin/settings", {"duty_hours": "9点到5点", "duty_days": "workdays", "sensitive_words": ""})
    assert bad_hours.status_code == 422 and "值班时间" in bad_hours.json()["error"]
    Citizen(app_client).say("再见")
    ratings = admin.get("/console/api/admin/export/ratings.csv")
    assert ratings.status_code == 200 and ratings.headers["content-type"].startswith("text/csv")
    exported = admin.get("/console/api/admin/export/handoffs.csv")
    assert exported.status_code == 200 and exported.text.startswith("\ufeffid,conversation_id")
    assert [e["target"] for e in admin.get("/console/api/admin/audit?action=export").json()["entries"]][:1] == ["handoffs"]
    wang = [o for o in admin.get("/console/api/admin/operators").json()["operators"] if o["username"] == "wang"][0]
    assert admin.post(f"/console/api/admin/operators/{wang['id']}", {"action": "disable"}).status_code == 200
    assert operator.get("/console/api/queue").status_code == 401  # a disabled account's sessions end
    assert admin.post(f"/console/api/admin/operators/{admin.get('/console/api/queue').json()['me']['id']}",
                      {"action": "disable"}).status_code == 422
