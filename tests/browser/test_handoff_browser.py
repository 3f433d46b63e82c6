"""Two Chromium contexts against the real app and Rasa: a citizen on the chat page asks for a person, an
operator logs in to the console and takes over, they exchange messages both ways, the operator hands
back, the bot answers again, the operator closes and the citizen rates the service."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import CONSOLE_ADMIN, CONSOLE_ADMIN_PASSWORD, DESKTOP
from tests.integration.console_helpers import ConsoleUser

ROUND_THE_CLOCK = {"duty_hours": "00:00-24:00", "duty_days": "every_day", "sensitive_words": "自杀\n不想活"}


@pytest.fixture(scope="module")
def admin(web_stack):
    user = ConsoleUser(web_stack.url, CONSOLE_ADMIN, CONSOLE_ADMIN_PASSWORD)
    defaults = user.get("/console/api/admin/settings").json()
    assert user.post("/console/api/admin/settings", ROUND_THE_CLOCK).status_code == 200  # on duty whenever the test runs
    yield user
    user.post("/console/api/admin/settings", {"duty_hours": defaults["duty_hours"], "duty_days": defaults["duty_days"],
                                              "sensitive_words": "\n".join(defaults["sensitive_words"])})
    user.close()


@pytest.fixture(scope="module")
def operator_account(admin):
    created = admin.post("/console/api/admin/operators", {"username": "liu", "display_name": "5号坐席", "role": "operator",
                                                          "password": "Liu-pass-2026"})
    assert created.status_code == 201, created.text
    return "liu", "Liu-pass-2026"


def test_citizen_and_operator_in_two_browsers(web_stack, browser, operator_account, shot):
    citizen_context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    operator_context = browser.new_context(locale="zh-CN", viewport=DESKTOP)
    citizen_context.set_default_timeout(30_000)
    operator_context.set_default_timeout(30_000)
    try:
        # the operator logs in (a Secure, HttpOnly session cookie on http://127.0.0.1: a potentially trustworthy origin)
        console = operator_context.new_page()
        console.goto(web_stack.url + "/console")
        expect(console).to_have_url(re.compile(r"/console/login\?next="))
        console.fill("#username", operator_account[0])
        console.fill("#password", "wrong-password")
        console.click("#login-form button[type=submit]")
        expect(console.locator(".error")).to_contain_text("用户名或密码不正确")
        console.fill("#password", operator_account[1])
        console.click("#login-form button[type=submit]")
        expect(console).to_have_url(web_stack.url + "/console")
        cookies = {c["name"]: c for c in operator_context.cookies()}
        assert cookies["__Host-jj_console"]["httpOnly"] and cookies["__Host-jj_console"]["secure"]
        assert cookies["__Host-jj_console"]["sameSite"] == "Strict"
        expect(console.locator("#duty")).to_contain_text("在线坐席")
        expect(console.locator("#waiting-empty")).to_be_visible()

        # the citizen asks for a person on the chat page
        chat = citizen_context.new_page()
        chat.goto(web_stack.url + "/")
        log = chat.locator("#log")
        chat.fill("#input", "转人工")
        chat.press("#input", "Enter")
        expect(log).to_contain_text("当前排在第")
        conversation_id = chat.evaluate("JSON.parse(localStorage.getItem('jj12345.chat.v1')).conversation_id")

        # the operator sees the conversation waiting and takes it
        row = console.locator(f'#waiting tr[data-conversation="{conversation_id}"]')
        expect(row).to_contain_text("要求人工")
        shot(console, "console-workbench-waiting")
        row.locator("button.take").click()
        expect(console).to_have_url(re.compile(re.escape(f"/console/conversations/{conversation_id}") + "$"))
        expect(console.locator("#handoff-status")).to_contain_text("人工服务中")
        expect(console.locator("#bot-paused")).to_contain_text("机器人已暂停")
        expect(console.locator("#composer")).to_be_visible()
        expect(console.locator("#take")).to_be_hidden()
        expect(log).to_contain_text("人工客服（5号坐席）已接入")
        shot(console, "console-conversation-taken")

        # messages both ways: the citizen's reaches the console (masked), the operator's the chat page
        chat.fill("#input", "我叫王小明，户口迁移要带什么？电话13812345678")
        chat.press("#input", "Enter")
        transcript = console.locator("#transcript")
        expect(transcript).to_contain_text("户口迁移要带什么")
        expect(transcript).to_contain_text("138****5678")
        expect(transcript).not_to_contain_text("13812345678")
        console.fill("#reply", "您好，我是5号坐席。户口迁移需要户口簿和准迁证明，我把指南发给您。")
        console.click("#send")
        operator_bubble = chat.locator(".msg-operator").last
        expect(operator_bubble).to_contain_text("户口迁移需要户口簿和准迁证明")
        expect(operator_bubble).to_contain_text("人工客服")
        expect(transcript).to_contain_text("我是5号坐席")
        shot(chat, "chat-phone-operator-reply")

        # operator assist: the grounded answer to the citizen's last question goes into the reply box in one click,
        # and an appeal is filed with the suggested category and department in one click
        chat.fill("#input", "低保要什么材料")
        chat.press("#input", "Enter")
        expect(console.locator("#assist-question")).to_contain_text("低保要什么材料")
        expect(console.locator("#assist-item")).to_contain_text("最低生活保障")
        console.click("#assist-insert")
        expect(console.locator("#reply")).to_have_value(re.compile("需要准备以下材料"))
        console.fill("#reply", "")
        chat.fill("#input", "还有个事，我们小区楼下烧烤摊天天半夜两点还在吵，噪音大得睡不着，管一下嘛")
        chat.press("#input", "Enter")
        expect(console.locator("#assist-question")).to_contain_text("烧烤摊")
        expect(console.locator("#assist-appeal")).to_be_visible()
        expect(console.locator("#assist-route")).to_contain_text("→")
        shot(console, "console-operator-assist")
        console.click("#assist-file")
        expect(console.locator("#assist-filed")).to_contain_text(re.compile(r"已登记工单 GD\d{10}"))
        expect(log).to_contain_text("工单编号")

        # the operator hands back; the bot answers again
        console.click("#hand-back")
        expect(console.locator("#handoff-status")).to_contain_text("已交还机器人")
        expect(console.locator("#composer")).to_be_hidden()
        expect(console.locator("#hand-back")).to_be_hidden()
        expect(log).to_contain_text("交还给智能助手")
        chat.fill("#input", "身份证丢了怎么补办")
        chat.press("#input", "Enter")
        expect(chat.locator(".msg-bot").last).to_contain_text("居民身份证")

        # the operator closes with a category; the citizen rates the service
        console.select_option("#close-category", "办事咨询")
        console.fill("#close-summary", "咨询户口迁移材料，已答复并交还机器人。")
        console.click("#close")
        expect(console.locator("#handoff-status")).to_contain_text("已结束")
        expect(console.locator("#close-form")).to_be_hidden()
        expect(log).to_contain_text("请您对人工客服的服务做个评价")
        chat.locator(".quick button", has_text=re.compile("^非常满意$")).last.click()
        expect(log).to_contain_text("感谢您的评价（非常满意）")
        shot(chat, "chat-phone-rated")
        shot(console, "console-conversation-closed")

        console.goto(web_stack.url + "/console/ratings")
        expect(console.locator("#ratings")).to_contain_text("非常满意")
        shot(console, "console-ratings")
        console.goto(web_stack.url + "/console/admin/users")
        expect(console.locator("body")).to_contain_text("只有管理员可以使用")

        # logging out ends the session; an admin sees the accounts and the audit log
        console.click("form.logout button")
        expect(console).to_have_url(web_stack.url + "/console/login")
        console.goto(web_stack.url + "/console")
        expect(console).to_have_url(re.compile(r"/console/login"))
        console.fill("#username", CONSOLE_ADMIN)
        console.fill("#password", CONSOLE_ADMIN_PASSWORD)
        console.click("#login-form button[type=submit]")
        console.goto(web_stack.url + "/console/admin/users")
        expect(console.locator("#operators")).to_contain_text("5号坐席")
        shot(console, "console-admin-users")
        console.goto(web_stack.url + "/console/admin/audit")
        expect(console.locator("#audit")).to_contain_text("take_over")
        expect(console.locator("#audit")).to_contain_text("login_failed")
        shot(console, "console-admin-audit")
    finally:
        citizen_context.close()
        operator_context.close()
