"""An appeal (诉求工单) from the hotline's review to the citizen's chat, in Chromium against the real app and Rasa:
the citizen's appeal waits for review (the routing was uncertain); the hotline operator changes its class and
department in the console and dispatches it; the department's account (a second browser context) lands on its
appeals, signs, fails once with too short an answer (the reason is shown on the page) and answers; the citizen's
chat page shows the department's answer with the five rating buttons, and the rating is thanked."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from bot.appeals import service
from bot.appeals.classifier import Classification
from bot.appeals.routing import Routing
from bot.clock import utcnow
from bot.db import Database, import_models
from tests.browser.conftest import CONSOLE_ADMIN, CONSOLE_ADMIN_PASSWORD, DESKTOP
from tests.integration.console_helpers import ConsoleUser

OPERATOR = ("zhao", "Zhao-pass-2026")
DEPARTMENT = ("hbj_li", "Hbj-pass-2026")
STORE = "jj12345.chat.v1"
ANSWER = "经现场核查，该烧烤店未安装油烟净化设施，已责令三日内整改，我局将于下周复查。"
RATINGS = ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
SLOW_PAGE = 240_000  # the first suggestion waits for the app to train its classifier (about a minute on busy cores)


@pytest.fixture(scope="module")
def console_accounts(web_stack):
    admin = ConsoleUser(web_stack.url, CONSOLE_ADMIN, CONSOLE_ADMIN_PASSWORD)
    for body in ({"username": OPERATOR[0], "display_name": "3号坐席", "role": "operator", "password": OPERATOR[1]},
                 {"username": DEPARTMENT[0], "display_name": "生态环境局李科员", "role": "department", "department": "huanjing",
                  "password": DEPARTMENT[1]}):
        created = admin.post("/console/api/admin/operators", body)
        assert created.status_code == 201, created.text
    admin.close()


def file_for_review(web_stack, conversation_id: str) -> str:
    """The appeal as the intake would file it in the running app's database, with an uncertain classification (a
    smoky barbecue taken for 市政管理), so it waits for the hotline's review."""
    routing = Routing.load()
    code = routing.department_for("城乡建设", "城市建设和市政管理")
    guess = Classification("城乡建设", "城市建设和市政管理", code, routing.department_name(code), "投诉", 0.35, 0.4, False, [], [])
    import_models()  # every table the work order refers to (conversations)
    database = Database(web_stack.extra_env["DATABASE_URL"])
    try:
        with database.session() as session:
            order = service.file_appeal(db_session=session, routing=routing, classification=guess, now=utcnow(), channel="webchat",
                                        conversation_id=conversation_id,
                                        intake=service.Intake(what="楼下烧烤店每天晚上油烟很大，熏得窗户都不敢开", place="漹城街道东风路",
                                                              since="上个月开始", wish="希望让商家装油烟净化器"))
            assert order.status == "review"
            return order.number
    finally:
        database.engine.dispose()


def log_in(page, url: str, username: str, password: str) -> None:
    page.goto(url + "/console")
    expect(page).to_have_url(re.compile(r"/console/login\?next="))
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-form button[type=submit]")


def test_hotline_dispatches_the_department_answers_and_the_citizen_reads_it(web_stack, browser, console_accounts, shot):
    contexts = [browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True),
                browser.new_context(locale="zh-CN", viewport=DESKTOP), browser.new_context(locale="zh-CN", viewport=DESKTOP)]
    for context in contexts:
        context.set_default_timeout(30_000)
    citizen_context, hotline_context, department_context = contexts
    try:
        # the citizen's chat: the conversation the appeal was filed in
        chat = citizen_context.new_page()
        chat.goto(web_stack.url + "/")
        chat.fill("#input", "你好")
        chat.press("#input", "Enter")
        expect(chat.locator(".msg-bot").last).to_be_visible()
        conversation_id = chat.evaluate(f"JSON.parse(localStorage.getItem('{STORE}')).conversation_id")
        number = file_for_review(web_stack, conversation_id)

        # the hotline operator: the review list, the order with the classifier's suggestion, dispatched elsewhere
        hotline = hotline_context.new_page()
        log_in(hotline, web_stack.url, *OPERATOR)
        expect(hotline).to_have_url(web_stack.url + "/console")
        hotline.click("nav >> text=诉求工单")
        expect(hotline).to_have_url(web_stack.url + "/console/appeals")
        row = hotline.locator(f'#appeal-list tr[data-number="{number}"]')
        expect(row).to_contain_text("待派单")
        expect(row).to_contain_text("县综合行政执法局")
        expect(row).to_contain_text("个工作日")
        expect(hotline.locator("#hot-issues")).to_contain_text("热点诉求")
        shot(hotline, "console-appeals-hotline")
        hotline.goto(f"{web_stack.url}/console/appeals/{number}", timeout=SLOW_PAGE)
        expect(hotline.locator("#appeal-description")).to_contain_text("油烟很大")
        expect(hotline.locator("#suggestion")).to_contain_text(re.compile("判断依据|暂时无法给出分类建议"))
        hotline.select_option("#category1", "环境保护")  # the department follows the class (县环境局), the operator confirms
        hotline.select_option("#category2", "环境污染")
        expect(hotline.locator("#department")).to_have_value("huanjing")
        hotline.fill("#dispatch-form input[name=note]", "油烟扰民，属环境污染")
        shot(hotline, "console-appeal-review", full_page=True)
        hotline.click("#dispatch-form button[type=submit]")
        expect(hotline.locator("#appeal-status")).to_have_text("已派单")
        expect(hotline.locator("#appeal-department")).to_have_text("乐山市夹江生态环境局")
        expect(hotline.locator("#appeal-history")).to_contain_text("派单")
        expect(hotline.locator("#escalate-form")).to_be_visible()

        # the department's account: only its appeals, signs, a refused answer explained, then the answer
        department = department_context.new_page()
        log_in(department, web_stack.url, *DEPARTMENT)
        expect(department).to_have_url(web_stack.url + "/console/appeals")
        expect(department.locator("nav a")).to_have_text(["诉求工单"])
        expect(department.locator(".who")).to_contain_text("乐山市夹江生态环境局")
        department.goto(web_stack.url + "/console/work-orders")
        expect(department).to_have_url(web_stack.url + "/console/appeals")
        expect(department.locator("#hot-issues")).to_have_count(0)
        mine = department.locator(f'#appeal-list tr[data-number="{number}"]')
        expect(mine).to_contain_text("已派单")
        shot(department, "console-appeals-department")
        mine.locator("a").first.click()
        expect(department).to_have_url(f"{web_stack.url}/console/appeals/{number}")
        expect(department.locator("#suggestion")).to_have_count(0)
        department.click("#accept")
        expect(department.locator("#appeal-status")).to_have_text("已签收")
        expect(department.locator("#accept")).to_have_count(0)
        department.fill("#reply-text", "已处理")
        department.click("#reply-form button[type=submit]")
        refused = department.locator("#reply-form [data-result]")
        expect(refused).to_contain_text("答复内容太短")
        expect(refused).to_have_class(re.compile("error"))
        department.fill("#reply-text", ANSWER)
        shot(department, "console-appeal-department", full_page=True)
        department.click("#reply-form button[type=submit]")
        expect(department.locator("#appeal-status")).to_have_text("已答复")
        expect(department.locator("#appeal-reply")).to_contain_text("已责令三日内整改")

        # the citizen reads the answer on the chat page and rates it
        answer = chat.locator(".msg-operator", has_text="已责令三日内整改")
        expect(answer).to_contain_text(number)
        expect(answer).to_contain_text("乐山市夹江生态环境局")
        buttons = answer.locator(".quick button")
        expect(buttons).to_have_text(RATINGS)
        shot(chat, "chat-appeal-answer")
        buttons.filter(has_text=re.compile("^满意$")).click()
        expect(chat.locator("#log")).to_contain_text("感谢您的评价（满意）")

        hotline.reload()
        expect(hotline.locator("#appeal-status")).to_have_text("已办结")
    finally:
        for context in contexts:
            context.close()
