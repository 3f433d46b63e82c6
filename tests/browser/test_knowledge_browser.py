"""The console flow in Chromium against the real app and Rasa: an admin logs in, edits a guide's fee (checked as it
is typed), previews the answer, publishes; the chat then answers with the new fee, without a restart."""
from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import CONSOLE_ADMIN, CONSOLE_ADMIN_PASSWORD
from tests.integration.console_helpers import ConsoleUser

ITEM, FEE = "补领结婚证", "工本费9元（浏览器测试）"


def test_an_admin_edits_a_fee_and_the_chat_answers_with_it(web_stack, new_page, shot):
    console = new_page()
    console.goto(web_stack.url + "/console/admin/knowledge?q=" + ITEM)
    expect(console).to_have_url(re.compile(r"/console/login\?next="))
    console.fill("#username", CONSOLE_ADMIN)
    console.fill("#password", CONSOLE_ADMIN_PASSWORD)
    console.click("#login-form button[type=submit]")
    console.locator("#found a", has_text=ITEM).first.click()
    expect(console.locator("h1")).to_contain_text(ITEM)

    console.fill('[name="是否收费"]', "也许")  # checked as it is typed
    expect(console.locator("#problems")).to_contain_text("是否收费：应为“是”或“否”")
    console.fill('[name="是否收费"]', "是")
    console.fill('[name="收费标准"]', FEE)
    expect(console.locator("#problems")).to_be_empty()
    console.fill("#question", "补办结婚证要钱不")
    console.click("#preview")
    expect(console.locator("#answers")).to_contain_text(FEE)
    console.fill("#reason", "浏览器测试：收费标准调整")
    console.click("#publish")
    expect(console.locator("#published")).to_contain_text("已发布第", timeout=90_000)
    shot(console, "console-knowledge-published", full_page=True)
    published = int(re.search(r"第 (\d+) 版", console.locator("#published").inner_text()).group(1))
    assert httpx.get(web_stack.url + "/healthz", timeout=10).json()["knowledge_version"] == published  # served at once

    chat = new_page()
    chat.goto(web_stack.url + "/")
    chat.fill("#input", "补领结婚证要多少钱")
    chat.press("#input", "Enter")
    expect(chat.locator("#log")).to_contain_text(FEE, timeout=20_000)

    admin = ConsoleUser(web_stack.url, CONSOLE_ADMIN, CONSOLE_ADMIN_PASSWORD)  # leave the knowledge as it was
    try:
        assert admin.post("/console/api/admin/knowledge/rollback", {"number": published - 1, "reason": "测试结束"}).status_code == 200
    finally:
        admin.close()
