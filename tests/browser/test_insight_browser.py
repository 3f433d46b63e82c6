"""The dashboard in Chromium against the real app and Rasa: turns through the chat become figures, the charts are
drawn in the page by Chart.js served by the app (no request leaves it), the page prints; screenshots in tests/output/."""
from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import CONSOLE_ADMIN, CONSOLE_ADMIN_PASSWORD

QUESTIONS = ["身份证丢了要带什么材料", "社保卡怎么办理", "办证", "生孩子了要上户口", "火星签证怎么办", "补领结婚证要多少钱"]


def test_the_dashboard_draws_its_charts_from_the_app(web_stack, new_page, shot):
    for n, text in enumerate(QUESTIONS):
        assert httpx.post(web_stack.url + "/api/chat", json={"sender": f"dash-{n}", "text": text}, timeout=60).status_code == 200
    page = new_page()
    outside, failures = [], []
    page.on("request", lambda r: outside.append(r.url) if urlsplit(r.url).netloc != urlsplit(web_stack.url).netloc
            and not r.url.startswith("data:") else None)
    page.on("console", lambda m: failures.append(m.text) if m.type == "error" and "404" not in m.text else None)
    page.on("response", lambda r: failures.append(r.url) if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    page.on("pageerror", lambda e: failures.append(str(e)))
    page.goto(web_stack.url + "/console/admin/dashboard")
    expect(page).to_have_url(re.compile(r"/console/login\?next="))
    page.fill("#username", CONSOLE_ADMIN)
    page.fill("#password", CONSOLE_ADMIN_PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("数据看板")
    today = dt.date.today()
    assert int(page.locator("#kpi-contacts").inner_text()) >= len(QUESTIONS)
    for chart in ["contacts", "outcomes", "ratings", "items", "aspects", "bookings", "appeals"]:
        canvas = page.locator(f"#chart-{chart}")
        expect(canvas).to_have_attribute("data-rendered", "true")
        box = canvas.bounding_box()
        assert box["width"] > 200 and box["height"] > 150, (chart, box)
    drawn = page.evaluate("""() => { const c = document.getElementById('chart-contacts');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let ink = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) ink++; } return ink; }""")
    assert drawn > 1000  # the bars and axes are on the canvas
    assert page.evaluate("() => Chart.getChart('chart-items').data.labels.length") >= 1
    assert outside == [] and failures == [], (outside, failures)
    shot(page, "console-dashboard", full_page=True)
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    shot(page, "console-dashboard-print", full_page=True)
    assert str(today.year) in page.locator(".period").inner_text()


def test_an_admin_exports_and_erases_a_citizens_data_on_the_console_page(web_stack, new_page):
    sent = httpx.post(web_stack.url + "/api/chat", json={"sender": "pd-citizen", "text": "我电话13812345678，低保要什么材料"}, timeout=60)
    assert sent.status_code == 200
    conversation_id = sent.json()["conversation_id"]
    page = new_page()
    page.goto(web_stack.url + "/console/admin/personal-data")
    page.fill("#username", CONSOLE_ADMIN)
    page.fill("#password", CONSOLE_ADMIN_PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("个人信息查阅与删除")
    page.click("#pd-export")
    expect(page.locator("#pd-error")).to_contain_text("至少一项")
    page.fill("#pd-conversation", conversation_id)
    page.click("#pd-export")
    expect(page.locator("#pd-error")).to_contain_text("申请依据")
    page.fill("#pd-reason", "本人来电申请查阅")
    page.click("#pd-export")
    expect(page.locator("#pd-output")).to_contain_text("13812345678")
    expect(page.locator("#pd-download")).to_be_visible()
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#pd-erase")
    expect(page.locator("#pd-result-title")).to_contain_text("已删除")
    page.click("#pd-export")
    expect(page.locator("#pd-output")).not_to_contain_text("13812345678")
