"""The citizen's web chat, guide pages and widget in headless Chromium against the real app and Rasa."""
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import expect

from knowledge.loader import load

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
STORE = "jj12345.chat.v1"


@pytest.fixture(scope="module")
def kb():
    return load()


def ask(page, text):
    box = page.get_by_label("请输入您的问题")
    box.fill(text)
    box.press("Enter")


def answers(page):
    """The assistant's messages (not the local welcome)."""
    return page.locator(".msg-out[data-id]")


def wait_ready(page):
    expect(page.locator("#status")).to_have_text("", timeout=30_000)


def session_of(page) -> dict:
    return page.evaluate(f"JSON.parse(localStorage.getItem('{STORE}'))")


def server_messages(stack, session) -> list[dict]:
    response = httpx.get(f"{stack.url}/api/webchat/conversations/{session['conversation_id']}/messages",
                         headers={"Authorization": f"Bearer {session['token']}"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def shown_ids(page) -> list[int]:
    return [int(i) for i in page.locator(".msg[data-id]").evaluate_all("ns => ns.map(n => n.dataset.id)")]


def test_ask_click_a_button_follow_the_guide_link_and_reload(new_page, kb, shot, web_stack):
    id_card = kb.by_name("居民身份证办理（包括临时）")
    page = new_page()
    page.goto("/")
    expect(page.get_by_role("log", name="对话记录")).to_contain_text("您好！我是夹江县12345政务服务智能客服")
    wait_ready(page)

    ask(page, "身份证丢了要带什么去补办")
    answer = answers(page).last
    expect(answer).to_contain_text(id_card.name)
    expect(answer).to_contain_text(id_card.department)
    expect(answer).to_contain_text(f"信息核对日期：{id_card.verified}")
    names = [text.split("（")[0] for text in answer.locator("ol > li").all_inner_texts()]
    assert names == [m.name for m in id_card.materials]  # the materials, as a list, exactly the guide's
    expect(page.locator(".msg-in .bubble")).to_have_text(["身份证丢了要带什么去补办"])
    expect(page.locator(".msg-in.pending")).to_have_count(0)
    shot(page, "chat-desktop")

    answer.get_by_role("button", name="网上办理").click()
    expect(answers(page)).to_have_count(2)
    online = answers(page).last
    expect(online).to_contain_text("办理入口")
    portal = online.locator('a[href="https://www.sczwfw.gov.cn/"]')
    expect(portal).to_have_count(1)
    expect(portal).to_have_attribute("rel", "noopener noreferrer")
    expect(page.locator(".msg-in .bubble").last).to_have_text("网上办理")  # the button's title, not its payload

    with page.context.expect_page() as opened:
        online.get_by_role("link", name=re.compile("完整办事指南")).click()
    guide = opened.value
    guide.wait_for_load_state()
    assert guide.url.endswith(f"/guides/{id_card.id}")
    expect(guide.get_by_role("heading", level=1)).to_have_text(id_card.name)
    guide.close()

    before = page.locator(".msg").all_inner_texts()
    ids = shown_ids(page)
    page.reload()
    wait_ready(page)
    expect(page.locator(".msg[data-id]")).to_have_count(len(ids))
    assert shown_ids(page) == ids
    assert page.locator(".msg").all_inner_texts() == before  # same history, button titles included
    assert ids == [m["id"] for m in server_messages(web_stack, session_of(page))]


def test_network_drop_loses_and_duplicates_nothing(new_page, push, web_stack, shot):
    page = new_page()
    page.goto("/")
    wait_ready(page)
    ask(page, "开个体户要跑几次")
    expect(answers(page)).to_have_count(1)
    session = session_of(page)

    ask(page, "身份证丢了要带什么去补办")  # the network drops right after sending
    page.context.set_offline(True)
    expect(page.locator("#status")).to_contain_text("网络连接中断")
    ask(page, "那要多久?")  # typed while offline: kept in the outbox
    expect(page.locator(".msg-in.pending .bubble").last).to_have_text("那要多久?")
    expect(page.locator(".msg-in.pending .state").last).to_have_text("等待网络恢复后自动发送")
    pushed = push(session["conversation_id"], "您好，我是人工客服小王，您的问题我已收到。")
    assert pushed["delivered"] is False  # nobody listening while offline; stored for later
    shot(page, "chat-offline")

    page.context.set_offline(False)
    expect(page.locator(".msg-in.pending")).to_have_count(0, timeout=30_000)
    expect(page.locator(".msg-operator")).to_have_count(1)
    expect(page.locator(".msg-operator")).to_contain_text("人工客服小王")
    expect(page.locator("#status")).to_have_text("")
    server = server_messages(web_stack, session)
    questions = [m["text"] for m in server if m["direction"] == "in"]
    assert questions == ["开个体户要跑几次", "身份证丢了要带什么去补办", "那要多久?"]
    expect(page.locator(".msg[data-id]")).to_have_count(len(server))
    assert shown_ids(page) == [m["id"] for m in server]  # every message once, in the server's order
    expect(page.locator(".msg-in .bubble")).to_have_text(questions)
    follow_up = next(i for i, m in enumerate(server) if m["text"] == "那要多久?")
    assert any("承诺办结时限" in m["text"] for m in server[follow_up + 1:])  # answered about the same item

    pushed = push(session["conversation_id"], "请问还有什么可以帮您？")
    assert pushed["delivered"] is True
    expect(page.locator(".msg-operator")).to_have_count(2)


def test_phone_sized_screen_and_large_text(new_page, shot):
    page = new_page(**PHONE)
    page.goto("/")
    wait_ready(page)
    ask(page, "孩子刚出生怎么上户口")
    expect(answers(page)).to_have_count(1)
    expect(answers(page).last).to_contain_text("出生登记")
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"page wider than the phone: {width}"
    send = page.get_by_role("button", name="发送").bounding_box()
    assert send["x"] + send["width"] <= 390 and send["y"] + send["height"] <= 844
    shot(page, "chat-phone")

    def size():
        return page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.msg-out .bubble')).fontSize)")
    normal = size()
    page.get_by_role("button", name="大字模式").click()
    expect(page.get_by_role("button", name="大字模式")).to_have_attribute("aria-pressed", "true")
    assert size() >= normal * 1.2
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1]
    shot(page, "chat-phone-large-text")
    page.reload()
    expect(page.get_by_role("button", name="大字模式")).to_have_attribute("aria-pressed", "true")  # remembered


def test_keyboard_only(new_page):
    page = new_page()
    page.goto("/")
    wait_ready(page)
    for _ in range(15):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "input":
            break
    else:
        pytest.fail("Tab never reached the message box")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.type("开个体户要跑几次")
    page.keyboard.press("Enter")
    expect(answers(page)).to_have_count(1)
    expect(answers(page).last).to_contain_text("个体工商户设立登记")
    page.keyboard.press("Shift+Tab")  # back from the box towards the latest quick replies
    for _ in range(20):
        if page.evaluate("document.activeElement.closest('.msg-out[data-id] .quick') !== null"):
            break
        page.keyboard.press("Shift+Tab")
    else:
        pytest.fail("quick-reply buttons are not reachable by keyboard")
    title = page.evaluate("document.activeElement.textContent")
    page.keyboard.press("Enter")
    expect(page.locator(".msg-in .bubble").last).to_have_text(title)
    expect(answers(page)).to_have_count(2)


def test_forged_and_foreign_tokens_are_refused(new_page, shot):
    page = new_page()
    page.goto("/")
    wait_ready(page)
    ask(page, "开个体户要跑几次")
    expect(answers(page)).to_have_count(1)
    mine = session_of(page)

    forged = dict(mine, token=mine["token"][:-4] + ("AAAA" if not mine["token"].endswith("AAAA") else "BBBB"))
    page.evaluate(f"s => localStorage.setItem('{STORE}', JSON.stringify(s))", forged)
    page.reload()
    expect(page.locator("#status")).to_contain_text("会话凭证无效")
    expect(page.locator(".msg[data-id]")).to_have_count(0)  # nothing of the conversation is shown
    shot(page, "chat-forged-token")

    other = new_page()
    other.goto("/")
    wait_ready(other)
    theirs = session_of(other)
    page.evaluate(f"s => localStorage.setItem('{STORE}', JSON.stringify(s))", dict(theirs, token=mine["token"]))
    page.reload()
    expect(page.locator("#status")).to_contain_text("没有权限")
    expect(page.locator(".msg[data-id]")).to_have_count(0)

    page.get_by_role("button", name="开始新的对话").click()
    wait_ready(page)
    ask(page, "开个体户要跑几次")
    expect(answers(page)).to_have_count(1)
    assert session_of(page)["conversation_id"] not in (mine["conversation_id"], theirs["conversation_id"])


def test_http_fallback_without_websocket(new_page, push):
    page = new_page()
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto("/?transport=http")
    ask(page, "开个体户要跑几次")
    expect(answers(page)).to_have_count(1)
    expect(answers(page).last).to_contain_text("个体工商户设立登记")
    push(session_of(page)["conversation_id"], "您好，我是人工客服。", sender="operator")
    expect(page.locator(".msg-operator")).to_contain_text("人工客服", timeout=15_000)
    assert sockets == []


def test_guide_pages_search_and_item(new_page, kb, shot):
    birth = kb.by_name("出生登记")
    page = new_page()
    page.goto("/guides")
    shot(page, "guides-desktop")
    search = page.get_by_label("您想办什么事")
    search.fill("孩子刚出生怎么上户口")
    search.press("Enter")
    result = page.get_by_role("link", name=birth.name, exact=True)
    expect(result).to_be_visible()
    result.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(birth.name)
    for heading in ["申请材料", "办理流程", "办理时限", "收费", "办理地点和时间", "网上办理和跑动次数"]:
        expect(page.get_by_role("heading", level=2, name=re.compile(heading))).to_be_visible()
    expect(page.locator(".materials > li")).to_have_count(len(birth.materials))
    expect(page.locator("main")).to_contain_text(f"信息核对日期：{birth.verified}")
    expect(page.get_by_role("note")).to_contain_text("示例内容")
    shot(page, "guide-desktop", full_page=True)

    phone = new_page(**PHONE)
    phone.goto(f"/guides/{birth.id}")
    width = phone.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"guide page wider than the phone: {width}"
    shot(phone, "guide-phone")
    shot(phone, "guide-phone-full", full_page=True)
    phone.goto("/guides/no-such-item")
    expect(phone.get_by_role("heading", level=1)).to_have_text("没有找到这个办事指南")


@pytest.fixture
def county_site(web_stack):
    """A stand-in county website on its own origin (another port) that pastes the widget's one line."""
    html = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        '<title>夹江县人民政府</title></head><body style="font-family:sans-serif;margin:2rem">'
        "<h1>夹江县人民政府</h1><p>政务公开 · 政务服务 · 互动交流</p>"
        f'<script src="{web_stack.url}/widget.js" defer></script></body></html>'
    ).encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_widget_on_a_county_page(new_page, county_site, shot):
    for name, options in [("desktop", {}), ("phone", PHONE)]:
        page = new_page(**options)
        page.goto(county_site)
        opener = page.get_by_role("button", name="在线咨询")
        expect(opener).to_have_attribute("aria-expanded", "false")
        opener.click()
        expect(opener).to_have_attribute("aria-expanded", "true")
        chat = page.frame_locator('iframe[title="夹江县12345政务服务智能客服"]')
        expect(chat.locator("#status")).to_have_text("", timeout=30_000)
        box = chat.get_by_label("请输入您的问题")
        box.fill("开个体户要跑几次")
        box.press("Enter")
        expect(chat.locator(".msg-out[data-id]")).to_have_count(1)
        expect(chat.locator(".msg-out[data-id]").last).to_contain_text("个体工商户设立登记")
        shot(page, f"widget-{name}")
        box.press("Escape")
        expect(page.get_by_role("dialog")).to_be_hidden()
        expect(opener).to_be_focused()


def test_markup_in_messages_is_shown_as_text(new_page, push):
    page = new_page()
    page.goto("/")
    wait_ready(page)
    ask(page, '<img src=x onerror="window.__xss=1">身份证')
    expect(answers(page)).to_have_count(1)
    expect(page.locator(".msg-in .bubble")).to_have_text(['<img src=x onerror="window.__xss=1">身份证'])
    push(session_of(page)["conversation_id"],
         '<script>window.__xss=2</script>请看 https://www.sczwfw.gov.cn/ 或 javascript:alert(1)\n1. 第一项\n2. 第二项')
    operator = page.locator(".msg-operator")
    expect(operator).to_contain_text("<script>window.__xss=2</script>请看")
    expect(operator.locator("ol > li")).to_have_text(["第一项", "第二项"])
    expect(operator.locator("a")).to_have_count(1)
    expect(operator.locator("a")).to_have_attribute("href", "https://www.sczwfw.gov.cn/")
    assert page.locator(".log img, .log script").count() == 0
    assert page.evaluate("window.__xss") is None
