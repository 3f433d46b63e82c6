"""Appeals (诉求工单) in the console's pages (channels/console.py): a department's account reaches only its own
department's appeals and is sent there from every other page; the hotline sees every order, the review list and the
hot issues, and reviews one order with the classifier's suggestion. Orders are filed through bot/appeals/service.py
with a classification given by hand, so which department gets which order does not depend on the classifier's
training examples (tests/appeals tests those)."""
import re

import pytest
from fastapi.testclient import TestClient

from bot.appeals import office, service
from bot.appeals.classifier import AppealClassifier, Classification
from bot.clock import utcnow
from tests.handoff.conftest import Citizen, admin_and_operator, login, other_client

PASSWORD = "Dept-pass-2026"
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
OTHER_PAGES = ["/console", "/console/work-orders", "/console/work-orders/GD2611250001", "/console/ratings",
               "/console/conversations/webchat-x", "/console/admin/users", "/console/admin/settings", "/console/admin/audit",
               "/console/admin/knowledge", "/console/admin/dashboard", "/console/admin/inbox", "/console/admin/bookings"]


class Department:
    """A department's logged-in account: it lands on its appeals after login."""

    def __init__(self, client: TestClient, username: str, next_url: str = "/console"):
        self.client = client
        response = login(client, username, PASSWORD, next_url)
        assert response.status_code == 303, response.text
        self.landed = response.headers["location"]
        self.csrf = CSRF.search(client.get("/console/appeals").text).group(1)

    def get(self, url: str, **kw):
        return self.client.get(url, **kw)

    def post(self, url: str, json: dict | None = None):
        return self.client.post(url, json=json or {}, headers={"X-CSRF-Token": self.csrf})


def department_account(admin, client: TestClient, username: str, code: str, next_url: str = "/console") -> Department:
    created = admin.post("/console/api/admin/operators", {"username": username, "display_name": f"{username}经办人",
                                                          "role": "department", "department": code, "password": PASSWORD})
    assert created.status_code == 201, created.text
    return Department(other_client(client), username, next_url)


def file(app, what: str, first: str, second: str, confidence: float = 0.9, place: str = "", conversation_id: str | None = None,
         urgent: bool = False) -> str:
    """An appeal filed as the intake form would, with this classification; confident ones are dispatched at once."""
    routing = app.state.services.appeals.routing
    code = routing.department_for(first, second)
    classification = Classification(first, second, code, routing.department_name(code), "投诉", confidence, confidence, urgent, [], [])
    with app.state.database.session() as session:
        order = service.file_appeal(db_session=session, routing=routing, classification=classification,
                                    intake=service.Intake(what=what, place=place), now=utcnow(), channel="webchat",
                                    conversation_id=conversation_id)
        return order.number


@pytest.fixture(scope="module", autouse=True)
def one_classifier():
    """Every app of this module shares one classifier, trained on first use: each app would otherwise train its own
    when it starts (the worker's warm-up), about a minute on busy cores, and its shutdown waits for that."""
    trained = {}

    def shared(routing, examples=None):
        if "classifier" not in trained:
            trained["classifier"] = AppealClassifier(routing, examples)
        return trained["classifier"]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(office, "AppealClassifier", shared)
        yield


def numbers_in(html: str) -> set[str]:
    return set(re.findall(r'<tr data-number="([^"]+)"', html))


@pytest.fixture
def orders(app_client):
    app = app_client.app
    return {
        "smoke": file(app, "东风路烧烤店油烟太大，熏得窗户都不敢开，电话13812345678", "环境保护", "环境污染", place="漹城街道东风路"),
        "road": file(app, "新修的小区道路才半年就开裂了，下雨天全是积水", "城乡建设", "工程质量", place="甘江镇"),
        "unsure": file(app, "河边有人倒了很多垃圾，味道很大", "环境保护", "环境污染", confidence=0.3, place="青衣江边"),
    }


def test_a_department_account_is_sent_to_its_appeals_and_sees_only_its_own_orders(app_client, orders):
    admin, _operator = admin_and_operator(app_client)
    huanjing = department_account(admin, app_client, "huanjing1", "huanjing")
    assert huanjing.landed == "/console/appeals"  # after login, whatever page was asked for

    for path in OTHER_PAGES:
        response = huanjing.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/console/appeals", path
    assert huanjing.get("/console/api/work-orders").status_code == 403  # the operators' JSON API stays closed
    assert huanjing.get("/console/api/queue").status_code == 403
    assert huanjing.get("/console/api/appeals/hot").status_code == 403

    listing = huanjing.get("/console/appeals")
    assert listing.status_code == 200
    html = listing.text
    assert numbers_in(html) == {orders["smoke"]}  # not another department's, not one still in the hotline's review
    assert "乐山市夹江生态环境局" in html and "已派单" in html and "剩 " in html and "个工作日" in html
    assert "13812345678" not in html and "138****5678" in html
    nav = re.search(r"<nav.*?</nav>", html, re.S).group(0)
    assert "诉求工单" in nav and 'href="/console"' not in nav and "/console/work-orders" not in nav and "服务评价" not in nav
    assert "热点诉求" not in html and 'id="hot-issues"' not in html

    # another department's order, and one the hotline has not dispatched yet, do not exist for it
    for number in (orders["road"], orders["unsure"]):
        missing = huanjing.get(f"/console/appeals/{number}")
        assert missing.status_code == 404 and "没有编号为" in missing.text
    detail = huanjing.get(f"/console/appeals/{orders['smoke']}")
    assert detail.status_code == 200
    for control in ('id="accept"', ">签收<", 'id="reply-form"', "提交答复", 'id="extension-form"', "申请延期", 'id="return-form"', "退回热线"):
        assert control in detail.text, control
    assert "分类建议" not in detail.text and 'id="dispatch-form"' not in detail.text and "督办</button>" not in detail.text

    assert huanjing.post(f"/console/api/appeals/{orders['smoke']}/accept").status_code == 200
    signed = huanjing.get(f"/console/appeals/{orders['smoke']}").text
    assert "已签收" in signed and 'id="accept"' not in signed and "签收" in signed  # the history records it
    assert huanjing.get("/console/appeals?status=accepted").text.count("<tr data-number=") == 1
    assert numbers_in(huanjing.get("/console/appeals?status=dispatched").text) == set()

    # the other department sees its own order only; a link to a page of its appeal survives the login
    zhujian = department_account(admin, app_client, "zhujian1", "zhujian", next_url=f"/console/appeals/{orders['road']}")
    assert zhujian.landed == f"/console/appeals/{orders['road']}"
    assert numbers_in(zhujian.get("/console/appeals").text) == {orders["road"]}
    assert "县住房和城乡建设局" in zhujian.get("/console/appeals").text


def test_the_hotline_sees_every_order_the_review_list_and_the_hot_issues(app_client, orders):
    app = app_client.app
    admin, operator = admin_and_operator(app_client)
    again = file(app, "东风路那家烧烤店油烟太大了，熏得家里窗户都不敢开", "环境保护", "环境污染", place="漹城街道东风路")
    urgent = file(app, "小区楼道里闻到气味很大，怀疑燃气泄漏", "城乡建设", "安全生产", urgent=True, place="漹城街道")

    page = operator.get("/console/appeals")
    assert page.status_code == 200
    html = page.text
    assert numbers_in(html) == {*orders.values(), again, urgent}
    assert html.index(f'data-number="{urgent}"') < html.index(f'data-number="{orders["road"]}"')  # urgent first
    assert "紧急" in html and "待派单" in html
    nav = re.search(r"<nav.*?</nav>", html, re.S).group(0)
    assert "诉求工单" in nav and "会话" in nav and "/console/work-orders" in nav

    hot = re.search(r'<section class="panel" id="hot-issues">.*?</section>', html, re.S).group(0)
    assert "热点诉求" in hot and "<strong>2</strong> 件" in hot and "漹城街道东风路" in hot
    assert orders["smoke"] in hot and again in hot and "环境保护 / 环境污染" in hot
    assert "13812345678" not in hot

    review = operator.get("/console/appeals?status=review").text
    assert numbers_in(review) == {orders["unsure"], urgent}  # uncertain and urgent orders wait for the hotline

    # one order under review: the facts, the suggestion (when the classifier can give one), the dispatch form
    detail = operator.get(f"/console/appeals/{orders['unsure']}")
    assert detail.status_code == 200
    text = detail.text
    assert "分类建议" in text and ("判断依据" in text or "暂时无法给出分类建议" in text)
    assert 'id="dispatch-form"' in text and '<option value="环境污染" data-first="环境保护" selected>' in text
    assert '<option value="huanjing" selected>乐山市夹江生态环境局</option>' in text and "确认分类并派单" in text
    assert 'id="accept"' not in text and 'id="reply-form"' not in text
    assert "登记" in re.search(r'<table class="list small" id="appeal-history">.*?</table>', text, re.S).group(0)

    # dispatched to another department than the classifier's: that department now has it
    dispatched = operator.post(f"/console/api/appeals/{orders['unsure']}/dispatch",
                               {"category1": "城乡建设", "category2": "城市建设和市政管理", "department": "zhifa", "note": ""})
    assert dispatched.status_code == 200, dispatched.text
    zhifa = department_account(admin, app_client, "zhifa1", "zhifa")
    assert numbers_in(zhifa.get("/console/appeals").text) == {orders["unsure"]}

    # 延期 asked by the department: the hotline's page offers the decision; 督办 is shown as a badge
    asked = zhifa.post(f"/console/api/appeals/{orders['unsure']}/extension", {"days": 3, "reason": "需要协调环卫公司清运"})
    assert asked.status_code == 200, asked.text
    assert operator.post(f"/console/api/appeals/{orders['unsure']}/escalate", {"note": "群众再次来电"}).status_code == 200
    pending = operator.get(f"/console/appeals/{orders['unsure']}").text
    assert "同意延期" in pending and "不同意延期" in pending and "需要协调环卫公司清运" in pending
    assert 'id="escalate-form"' in pending and "督办</span>" in pending and "延期待审</span>" in pending
    row = re.search(rf'<tr data-number="{orders["unsure"]}".*?</tr>', operator.get("/console/appeals").text, re.S).group(0)
    assert "督办" in row and "延期待审" in row and "县综合行政执法局" in row
    assert "申请延期 3 个工作日" in zhifa.get(f"/console/appeals/{orders['unsure']}").text


def test_the_departments_answer_reaches_the_citizen_with_the_rating_buttons(app_client):
    admin, _operator = admin_and_operator(app_client)
    citizen = Citizen(app_client)
    citizen.say("你好")
    number = file(app_client.app, "楼下烧烤店油烟太大，熏得窗户都不敢开", "环境保护", "环境污染", conversation_id=citizen.id)
    huanjing = department_account(admin, app_client, "huanjing2", "huanjing")

    too_short = huanjing.post(f"/console/api/appeals/{number}/reply", {"text": "好"})
    assert too_short.status_code == 422 and "答复内容太短" in too_short.json()["error"]
    answered = huanjing.post(f"/console/api/appeals/{number}/reply", {"text": "经现场核查，已责令商户加装油烟净化器，下周复查。"})
    assert answered.status_code == 200 and answered.json()["delivered"] is True
    answer = [m for m in citizen.inbox() if "已责令商户加装油烟净化器" in m["text"]]
    assert answer and [b["title"] for b in answer[-1]["buttons"]] == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    page = huanjing.get(f"/console/appeals/{number}").text
    assert "已答复" in page and "已责令商户加装油烟净化器" in page and 'id="reply-form"' not in page
