"""Web chat transport: signed tokens, rate limits, the push hub, the WebSocket protocol and the HTTP
fallback, with Rasa replaced by httpx.MockTransport (no network)."""
import asyncio
import threading
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect

from bot import push as push_module
from bot.app import create_app
from bot.conversations.models import Conversation, Message
from bot.db import Database
from bot.messages import Reply
from bot.push import PushHub, UnknownConversation, messages_after, store_push, undelivered
from bot.ratelimit import MemoryRateLimiter, wait_seconds
from bot.settings import Settings
from channels.webchat_tokens import ConversationTokens, ExpiredToken, ForgedToken, WrongConversation
from knowledge.service import get_index
from tests.fakes import FakeRasa

ID_CARD = "居民身份证办理（包括临时）"
ANSWER = f"【{ID_CARD}】夹江县公安局\n需要准备以下材料：\n1. 居民户口簿（原件1份）\n信息核对日期：2026-11-25。"


def answers_like_the_assistant(text: str) -> list[dict]:
    if "身份证" in text:
        return [{"text": ANSWER, "buttons": [{"title": "办理流程", "payload": "/ask_procedure"}]}]
    return [{"text": f"收到：{text}"}]


@pytest.fixture
def rasa():
    return FakeRasa(answers_like_the_assistant)


def make_client(tmp_path, rasa, **overrides) -> TestClient:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'app.db'}", secret_key="unit-test-secret", **overrides)
    return TestClient(create_app(settings, rasa=rasa.client()), client=("198.51.100.7", 50000))


@pytest.fixture
def client(tmp_path, rasa):
    with make_client(tmp_path, rasa) as c:
        yield c


def new_session(client) -> dict:
    response = client.post("/api/webchat/session")
    assert response.status_code == 201, response.text
    return response.json()


def hello(ws, session, after=0):
    ws.send_json({"type": "hello", "conversation_id": session["conversation_id"], "token": session["token"], "after": after})


def frames_until(ws, predicate, limit=20) -> list[dict]:
    frames = []
    for _ in range(limit):
        frame = ws.receive_json()
        frames.append(frame)
        if predicate(frame):
            return frames
    raise AssertionError(f"no matching frame in {frames}")


def messages_of(frames) -> list[dict]:
    return [m for f in frames if f["type"] == "messages" for m in f["messages"]]


@contextmanager
def connected(client, session, after=0):
    """An open, synced socket and the messages it got on connect."""
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws, session, after)
        frames = frames_until(ws, lambda f: f["type"] == "ready")
        yield ws, messages_of(frames)


def ask(ws, client_id, text) -> list[dict]:
    ws.send_json({"type": "message", "client_id": client_id, "text": text})
    return frames_until(ws, lambda f: f == {"type": "typing", "on": False})


# --- tokens ----------------------------------------------------------------------------------------

def test_token_round_trip_and_refusals(monkeypatch):
    tokens = ConversationTokens("key-one", max_age_seconds=3600)
    token = tokens.issue("webchat-abc")
    assert tokens.verify(token, "webchat-abc") == "webchat-abc"
    with pytest.raises(WrongConversation) as wrong:
        tokens.verify(token, "webchat-other")
    assert wrong.value.status == 403 and "没有权限" in wrong.value.message
    for forged in [None, "", "garbage", token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
                   ConversationTokens("another-key", 3600).issue("webchat-abc")]:
        with pytest.raises(ForgedToken) as refused:
            tokens.verify(forged, "webchat-abc")
        assert refused.value.status == 401 and "会话凭证无效" in refused.value.message
    monkeypatch.setattr("itsdangerous.timed.TimestampSigner.get_timestamp", lambda self: 1_000_000)
    old = tokens.issue("webchat-abc")
    monkeypatch.undo()
    with pytest.raises(ExpiredToken) as expired:
        tokens.verify(old, "webchat-abc")
    assert expired.value.status == 401 and "过期" in expired.value.message


def test_empty_secret_key_is_refused_at_start():
    with pytest.raises(ValueError, match="SECRET_KEY"):
        ConversationTokens("", 60)


# --- rate limiter ----------------------------------------------------------------------------------

def test_rate_limiter_sliding_window():
    now = [0.0]
    limiter = MemoryRateLimiter(3, 10.0, clock=lambda: now[0])
    assert [limiter.hit_now("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.hit_now("a") == pytest.approx(10.0)
    assert limiter.hit_now("b") == 0.0  # keys are independent
    now[0] = 4.0
    assert limiter.hit_now("a") == pytest.approx(6.0)  # refused events are not counted
    now[0] = 10.0
    assert limiter.hit_now("a") == 0.0
    assert wait_seconds(0.2) == 1 and wait_seconds(6.0) == 6
    with pytest.raises(ValueError):
        MemoryRateLimiter(0, 1)


def test_rate_limiter_forgets_idle_keys():
    now = [0.0]
    limiter = MemoryRateLimiter(1, 1.0, clock=lambda: now[0])
    for i in range(999):
        limiter.hit_now(i)
    now[0] = 5.0
    limiter.hit_now("last")  # the 1000th call sweeps
    assert list(limiter._events) == ["last"]


# --- push hub --------------------------------------------------------------------------------------

def test_push_stores_first_and_reports_delivery(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'push.db'}")
    database.migrate()
    with database.session() as session:
        session.add(Conversation(id="webchat-1", channel="webchat", sender="s1"))
    hub = PushHub(database)

    async def scenario():
        nobody = await hub.push("webchat-1", Reply(text="您预约的业务明天上午办理。", sender="system"))
        assert nobody.delivered is False
        got = []

        async def listener():
            with database.session() as session:
                messages = messages_after(db_session=session, conversation_id="webchat-1", after=0)
                got.extend(messages)
                push_module.mark_delivered(db_session=session, message_ids=[m.id for m in messages])

        async def broken():
            raise RuntimeError("socket closed")

        hub.listen("webchat-1", broken)
        remove = hub.listen("webchat-1", listener)
        live = await hub.push("webchat-1", Reply(text="您好，我是人工客服。", sender="operator"))
        assert live.delivered is True
        assert [(m.sender, m.text) for m in got] == [("system", "您预约的业务明天上午办理。"), ("operator", "您好，我是人工客服。")]
        remove()
        assert hub.listening("webchat-1") == 1
        with pytest.raises(UnknownConversation):
            await hub.push("webchat-nope", Reply(text="x"))

    asyncio.run(scenario())
    with database.session() as session:
        assert undelivered(db_session=session, conversation_id="webchat-1") == []
        rows = session.scalars(select(Message).order_by(Message.id)).all()
        assert [(m.direction, m.status) for m in rows] == [("out", "pushed"), ("out", "pushed")]


def test_actions_before_start_say_so():
    from bot import services

    with pytest.raises(RuntimeError, match="the app has not started"):
        services.current()


def test_store_push_keeps_buttons_and_action(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'push.db'}")
    database.migrate()
    with database.session() as session:
        session.add(Conversation(id="webchat-2", channel="webchat", sender="s2"))
        session.flush()
        store_push(db_session=session, conversation_id="webchat-2",
                   reply=Reply(text="请评价", buttons=[{"title": "满意", "payload": "/rate{\"score\":5}"}], action="rate", sender="system"))
        [message] = messages_after(db_session=session, conversation_id="webchat-2")
    assert message.buttons == [{"title": "满意", "payload": "/rate{\"score\":5}"}] and message.action == "rate"


# --- WebSocket protocol ----------------------------------------------------------------------------

def test_ask_over_websocket_gets_grounded_answer_with_guide_link(client, rasa):
    session = new_session(client)
    assert session["conversation_id"].startswith("webchat-")
    with connected(client, session) as (ws, history):
        assert history == []
        frames = ask(ws, "m-1", "身份证丢了怎么补办")
        assert frames[0] == {"type": "typing", "on": True}
        inbound, answer = messages_of(frames)
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}
    assert inbound["direction"] == "in" and inbound["client_id"] == "m-1" and inbound["sender"] == "citizen"
    assert answer["text"] == ANSWER and answer["sender"] == "bot"
    assert answer["buttons"] == [{"title": "办理流程", "payload": "/ask_procedure"}]
    entry = get_index().kb.by_name(ID_CARD)
    assert answer["guide"] == {"id": entry.id, "name": ID_CARD, "url": f"/guides/{entry.id}"}
    assert rasa.calls == ["身份证丢了怎么补办"]


def test_retried_client_id_is_processed_once_and_reconnect_gets_only_the_rest(client, rasa):
    session = new_session(client)
    with connected(client, session) as (ws, _):
        first = messages_of(ask(ws, "m-1", "你好"))
        again = messages_of(ask(ws, "m-1", "你好"))  # the page resends after a drop: nothing new
    assert again == [] and rasa.calls == ["你好"]
    with connected(client, session, after=first[0]["id"]) as (ws, history):
        assert [m["id"] for m in history] == [first[1]["id"]]
    with connected(client, session, after=0) as (ws, history):
        assert [m["text"] for m in history] == ["你好", "收到：你好"]


def test_message_survives_a_drop_while_the_assistant_is_thinking(client, rasa):
    """The socket closes before the answer; the reconnecting page gets question and answer once."""
    session = new_session(client)
    rasa.gate = threading.Event()
    with connected(client, session) as (ws, _):
        ws.send_json({"type": "message", "client_id": "m-1", "text": "身份证丢了"})
        assert ws.receive_json() == {"type": "typing", "on": True}
    with connected(client, session) as (ws, history):  # back online; the answer is still on its way
        ws.send_json({"type": "message", "client_id": "m-1", "text": "身份证丢了"})  # the page's outbox resends it
        rasa.gate.set()
        got = list(history)
        for _ in range(10):
            if any(m["direction"] == "out" for m in got):
                break
            got += messages_of([ws.receive_json()])
    assert [(m["direction"], m["client_id"]) for m in got] == [("in", "m-1"), ("out", None)]
    assert rasa.calls == ["身份证丢了"]


def test_push_reaches_open_socket_and_waits_for_a_closed_one(client):
    session = new_session(client)
    cid = session["conversation_id"]
    with connected(client, session) as (ws, _):
        pushed = client.portal.call(client.app.state.services.deliveries.to_conversation, cid, Reply(text="您好，我是人工客服小李。", sender="operator"))
        frame = ws.receive_json()
    assert frame["type"] == "messages" and frame["messages"][0]["sender"] == "operator"
    assert pushed.delivered is True
    offline = client.portal.call(client.app.state.services.deliveries.to_conversation, cid, Reply(text="您的材料已审核通过。", sender="system"))
    assert offline.delivered is False
    with client.app.state.database.session() as s:
        assert undelivered(db_session=s, conversation_id=cid) == [offline.message_id]
    with connected(client, session, after=pushed.message_id) as (ws, history):
        assert [(m["sender"], m["text"]) for m in history] == [("system", "您的材料已审核通过。")]
    with client.app.state.database.session() as s:
        assert undelivered(db_session=s, conversation_id=cid) == []


@pytest.mark.parametrize("token_for, code, close, words", [
    ("forged", "invalid_token", 4401, "会话凭证无效"),
    ("other", "forbidden", 4403, "没有权限"),
])
def test_refused_tokens_close_the_socket_with_a_chinese_reason(client, token_for, code, close, words):
    mine, other = new_session(client), new_session(client)
    token = "eyJjIjoid2ViY2hhdC14In0.forged.signature" if token_for == "forged" else other["token"]
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "hello", "conversation_id": mine["conversation_id"], "token": token, "after": 0})
        frame = ws.receive_json()
        assert frame["type"] == "error" and frame["code"] == code and words in frame["message"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == close


def test_socket_must_say_hello_first_and_bad_frames_are_answered(client):
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "message", "client_id": "x", "text": "hi"})
        assert ws.receive_json()["code"] == "bad_request"
        with pytest.raises(WebSocketDisconnect):
            ws.receive_json()
    session = new_session(client)
    with connected(client, session) as (ws, _):
        ws.send_text("{not json")
        assert ws.receive_json() == {"type": "error", "code": "bad_request", "message": "消息格式不正确，请刷新页面后重试。"}
        ws.send_json({"type": "message", "client_id": "has spaces", "text": "hi"})
        assert ws.receive_json()["code"] == "bad_request"


def test_rate_limit_per_conversation_over_websocket(tmp_path, rasa):
    with make_client(tmp_path, rasa, webchat_messages_per_conversation=2) as client:
        session = new_session(client)
        with connected(client, session) as (ws, _):
            ask(ws, "m-1", "一")
            ask(ws, "m-2", "二")
            ws.send_json({"type": "message", "client_id": "m-3", "text": "三"})
            frame = ws.receive_json()
        assert frame["type"] == "error" and frame["code"] == "rate_limited" and frame["client_id"] == "m-3"
        assert "请稍等" in frame["message"] and frame["retry_after"] >= 1
        assert rasa.calls == ["一", "二"]


def test_rate_limit_per_ip_over_http(tmp_path, rasa):
    with make_client(tmp_path, rasa, webchat_messages_per_ip=2) as client:
        a, b = new_session(client), new_session(client)
        for session, n in [(a, 1), (b, 2)]:
            assert send_http(client, session, f"m-{n}", "你好").status_code == 200
        refused = send_http(client, a, "m-3", "你好")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert "当前网络发来的消息太多了" in refused.json()["error"] and "12345" in refused.json()["error"]


def test_new_sessions_are_rate_limited_per_ip(tmp_path, rasa):
    with make_client(tmp_path, rasa, webchat_sessions_per_ip=1) as client:
        new_session(client)
        refused = client.post("/api/webchat/session")
        assert refused.status_code == 429 and "新建对话太频繁" in refused.json()["error"]


# --- HTTP fallback ---------------------------------------------------------------------------------

def send_http(client, session, client_id, text, after=0, token=None):
    return client.post(
        f"/api/webchat/conversations/{session['conversation_id']}/messages",
        json={"client_id": client_id, "text": text, "after": after},
        headers={"Authorization": f"Bearer {token or session['token']}"},
    )


def test_http_fallback_round_trip_and_retry(client, rasa):
    session = new_session(client)
    response = send_http(client, session, "h-1", "身份证丢了")
    assert response.status_code == 200
    inbound, answer = response.json()["messages"]
    assert inbound["client_id"] == "h-1" and answer["guide"]["name"] == ID_CARD
    retry = send_http(client, session, "h-1", "身份证丢了", after=answer["id"])
    assert retry.status_code == 200 and retry.json()["messages"] == [] and rasa.calls == ["身份证丢了"]
    polled = client.get(f"/api/webchat/conversations/{session['conversation_id']}/messages",
                        params={"after": inbound["id"]}, headers={"Authorization": f"Bearer {session['token']}"})
    assert [m["id"] for m in polled.json()["messages"]] == [answer["id"]]


def test_http_fallback_refuses_missing_forged_and_foreign_tokens(client):
    mine, other = new_session(client), new_session(client)
    url = f"/api/webchat/conversations/{mine['conversation_id']}/messages"
    missing = client.get(url)
    assert missing.status_code == 401 and "会话凭证无效" in missing.json()["error"]
    assert send_http(client, mine, "x-1", "你好", token="forged.token.value").status_code == 401
    foreign = send_http(client, mine, "x-2", "你好", token=other["token"])
    assert foreign.status_code == 403 and "没有权限" in foreign.json()["error"]
    bad = client.post(url, json={"client_id": "with space", "text": "你好"}, headers={"Authorization": f"Bearer {mine['token']}"})
    assert bad.status_code == 422
    with client.app.state.database.session() as s:
        assert s.scalars(select(Message)).all() == []  # nothing refused was stored


def test_a_token_for_an_open_api_conversation_is_of_no_use(client):
    """/api/chat conversations (channel "web") cannot be reached through the signed web chat."""
    cid = client.post("/api/chat", json={"sender": "u1", "text": "你好"}).json()["conversation_id"]
    token = client.app.state.webchat.tokens.issue(cid)
    response = client.get(f"/api/webchat/conversations/{cid}/messages", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404 and "没有找到这次对话" in response.json()["error"]


def test_internal_push_endpoint_is_off_without_a_key_and_checks_it(tmp_path, rasa):
    with make_client(tmp_path, rasa) as client:  # a remote peer never reaches an internal route
        refused = client.post("/internal/push/webchat-x", json={"text": "hi"}, headers={"Authorization": "Bearer " + "k" * 32})
        assert refused.status_code == 403 and "内部接口" in refused.json()["error"]
    with make_client(tmp_path, rasa, internal_allow_remote=True) as client:
        assert client.post("/internal/push/webchat-x", json={"text": "hi"}).status_code == 404
    with make_client(tmp_path, rasa, push_api_key="k" * 32, internal_allow_remote=True) as client:
        session = new_session(client)
        url = f"/internal/push/{session['conversation_id']}"
        assert client.post(url, json={"text": "hi"}, headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = client.post(url, json={"text": "您好，我是人工客服。"}, headers={"Authorization": "Bearer " + "k" * 32})
        assert ok.status_code == 200 and ok.json()["delivered"] is False
        unknown = client.post("/internal/push/webchat-none", json={"text": "hi"}, headers={"Authorization": "Bearer " + "k" * 32})
        assert unknown.status_code == 404


# --- pages ----------------------------------------------------------------------------------------

def test_chat_page_and_widget_are_served_with_a_strict_policy(client):
    page = client.get("/")
    assert page.status_code == 200 and "夹江县12345政务服务" in page.text and 'lang="zh-CN"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<label for="input"' in page.text
    widget = client.get("/widget.js")
    assert widget.status_code == 200 and widget.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/webchat/chat.js").status_code == 200
    assert client.get("/static/webchat/../../webchat.py").status_code == 404


def test_guide_page_shows_every_part_of_the_guide(client):
    entry = get_index().kb.by_name(ID_CARD)
    page = client.get(f"/guides/{entry.id}")
    assert page.status_code == 200
    for words in [ID_CARD, "夹江县公安局", "申请材料", "居民户口簿", "办理流程", "承诺办结时限", "20个工作日", "收费",
                  "办理地点", "办理时间", "网上办理", "到现场次数", "信息核对日期：2026-11-25", "示例内容"]:
        assert words in page.text, words
    assert '<a href="https://www.sczwfw.gov.cn/" target="_blank" rel="noopener noreferrer">' in page.text
    missing = client.get("/guides/no-such-guide")
    assert missing.status_code == 404 and "没有找到这个办事指南" in missing.text


def test_guide_search_page_escapes_the_question(client):
    page = client.get("/guides", params={"q": "<script>alert(1)</script>身份证丢了"})
    assert page.status_code == 200 and "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text and ID_CARD in page.text
    assert "常办事项" in client.get("/guides").text


def test_linkify_escapes_and_links_only_http_urls():
    from channels.guide_pages import linkify

    html = str(linkify('见 https://a.example/x?y=1&z=2。<b>javascript:alert(1)</b> "q"'))
    assert '<a href="https://a.example/x?y=1&amp;z=2" target="_blank"' in html
    assert "<b>" not in html and "&lt;b&gt;" in html and "&#34;q&#34;" in html
    assert 'href="javascript' not in html


def test_guide_link_names_the_item_an_answer_is_about():
    from channels.webchat import guide_link

    kb = get_index().kb
    catalogue_only = next(e for e in kb.entries if not e.detailed)
    assert guide_link(ANSWER)["name"] == ID_CARD
    assert guide_link(f"“{catalogue_only.name}”由{catalogue_only.department}办理")["url"] == f"/guides/{catalogue_only.id}"
    assert guide_link("【没有这个事项】某部门") is None and guide_link("您好！") is None and guide_link("") is None
