"""One test per finding of the security review (issue: forgeable tokens, an open action endpoint, silent crashes
and 500s). Each attacks the app the way the reviewer did; Rasa is replaced by httpx.MockTransport."""
import datetime as dt
import json
import os
import stat
import threading
import tracemalloc
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest
import xmltodict
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer
from wechatpy.utils import random_string

from bot import keys
from bot.app import create_app
from bot.booking.dates import parse_when
from bot.clock import TZ
from bot.security import MAX_WEBHOOK_BODY, inflate, json_depth
from bot.settings import Settings
from bot.texts import ACTION_FAILED, EMPTY_REPLY
from channels.webchat_tokens import SALT, ConversationTokens, ForgedToken
from tests.channel_helpers import ACCOUNT, WECHAT_AES_KEY, WECHAT_APP_ID, WECHAT_APP_SECRET, WECHAT_TOKEN, WeChatUser
from tests.fakes import FakeRasa

LOOPBACK = ("127.0.0.1", 50000)
OUTSIDER = ("198.51.100.7", 50000)
TOKEN = "t" * 43


def echo(text: str) -> list[dict]:
    return [{"text": f"收到：{text}"}]


def app_for(tmp_path, rasa=None, peer=OUTSIDER, **overrides) -> TestClient:
    values = dict(database_url=f"sqlite:///{tmp_path / 'app.db'}", var_dir=str(tmp_path / "var"), action_token=TOKEN)
    values.update(overrides)
    return TestClient(create_app(Settings(**values), rasa=(rasa or FakeRasa(echo)).client()), client=peer)


# 1. Web-chat tokens could be forged with the source default SECRET_KEY ------------------------------------------

def test_without_secret_key_a_random_key_is_generated_kept_private_and_reused(tmp_path):
    first = keys.with_secrets(Settings(var_dir=str(tmp_path)))
    second = keys.with_secrets(Settings(var_dir=str(tmp_path)))
    key = first.secret_key.get_secret_value()
    assert len(key) >= 40 and key == second.secret_key.get_secret_value() and key not in keys.KNOWN_DEFAULTS
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600
    assert first.action_token.get_secret_value() != key  # each secret its own
    assert key not in repr(first) and key not in str(first.model_dump())


def test_a_token_signed_with_the_old_default_key_is_refused(tmp_path):
    with app_for(tmp_path, secret_key="") as client:
        session = client.post("/api/webchat/session").json()
        forged = URLSafeTimedSerializer("dev-only-change-me", salt=SALT).dumps({"c": session["conversation_id"]})
        response = client.get(f"/api/webchat/conversations/{session['conversation_id']}/messages",
                              headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401 and "会话凭证无效" in response.json()["error"]


@pytest.mark.parametrize("key", ["", "dev-only-change-me", "short-key"])
def test_production_refuses_a_missing_or_known_or_short_key(tmp_path, key):
    settings = Settings(app_profile="production", secret_key=key, action_token="a" * 40, var_dir=str(tmp_path))
    with pytest.raises(keys.SecretError, match="SECRET_KEY"):
        keys.with_secrets(settings)
    assert not (tmp_path / "secret_key").exists()


def test_production_refuses_a_fixed_clock(tmp_path, monkeypatch):
    monkeypatch.setenv("CLOCK_START", "2026-12-08T09:30:00")
    settings = Settings(app_profile="production", secret_key="k" * 40, action_token="a" * 40, var_dir=str(tmp_path))
    with pytest.raises(keys.SecretError, match="CLOCK_START"):
        keys.with_secrets(settings)


def test_rotation_accepts_the_previous_key_only_during_its_grace_period():
    old = ConversationTokens("old-key-" * 5, 3600).issue("webchat-abc")
    now = dt.datetime.now(dt.timezone.utc)
    in_grace = ConversationTokens("new-key-" * 5, 3600, previous_key="old-key-" * 5, previous_until=now + dt.timedelta(days=1))
    assert in_grace.verify(old, "webchat-abc") == "webchat-abc"
    assert in_grace._serializer.loads(in_grace.issue("webchat-abc"))  # new tokens: the new key
    after = ConversationTokens("new-key-" * 5, 3600, previous_key="old-key-" * 5, previous_until=now - dt.timedelta(seconds=1))
    with pytest.raises(ForgedToken):
        after.verify(old, "webchat-abc")


# 2. The action endpoint was open to anyone ----------------------------------------------------------------------

ACTION_CALL = {"next_action": "action_rate_service", "sender_id": "webchat-someone-else", "version": "3.6.2",
               "tracker": {"sender_id": "webchat-someone-else", "slots": {}, "latest_message": {"text": "1"}, "events": [],
                           "paused": False, "followup_action": None, "active_loop": {}, "latest_action_name": None},
               "domain": {}}


def test_the_action_endpoint_refuses_outsiders_and_callers_without_the_token(tmp_path):
    with app_for(tmp_path) as outsider:
        refused = outsider.post("/webhook", json=ACTION_CALL, headers={"X-Action-Token": TOKEN})
        assert refused.status_code == 403 and "内部接口" in refused.json()["error"]
    with app_for(tmp_path, peer=LOOPBACK) as local:
        assert local.post("/webhook", json=ACTION_CALL).status_code == 401
        assert local.post("/webhook", json=ACTION_CALL, headers={"X-Action-Token": TOKEN[:-1] + "x"}).status_code == 401
        allowed = local.post("/webhook", json={**ACTION_CALL, "next_action": "action_no_such_thing"}, headers={"X-Action-Token": TOKEN})
        assert allowed.status_code == 404  # the token opens the door: the executor answers


def test_endpoints_yml_sends_the_token_rasa_gets_from_the_launcher(monkeypatch, tmp_path):
    from bot import launcher

    text = (launcher.ROOT / "endpoints.yml").read_text()
    assert "X-Action-Token: ${ACTION_TOKEN}" in text
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    monkeypatch.delenv("ACTION_TOKEN", raising=False)
    generated = launcher.action_token()
    assert generated == (tmp_path / "action_token").read_text().strip() and len(generated) >= 40
    assert launcher.action_token({"ACTION_TOKEN": "given"}) == "given"


# 3. A date phrase with 以前 silenced the assistant -------------------------------------------------------------------

@pytest.mark.parametrize("phrase", ["今年以前", "上午以前", "前天以前", "下周一以前能约吗", "以前"])
def test_open_ended_date_phrases_are_no_date_and_never_raise(phrase):
    when = parse_when(phrase, dt.datetime(2026, 12, 2, 10, tzinfo=TZ))
    assert when is None or when.start.year in (2026, 2027)


def test_a_failing_action_still_answers_the_citizen(tmp_path, monkeypatch):
    from bot import action_webhook

    async def broken(_call):
        raise OverflowError("cannot convert float infinity to integer")

    monkeypatch.setattr(action_webhook.executor, "run", broken)
    with app_for(tmp_path, peer=LOOPBACK) as local:
        response = local.post("/webhook", json=ACTION_CALL, headers={"X-Action-Token": TOKEN})
        assert response.status_code == 200
        assert response.json() == {"events": [], "responses": [{"text": ACTION_FAILED}]}


def test_an_empty_rasa_turn_still_gets_a_reply(tmp_path):
    rasa = FakeRasa(echo)
    rasa.answer = lambda text: []
    with app_for(tmp_path, rasa) as client:
        replies = client.post("/api/chat", json={"sender": "a", "text": "今年以前的预约"}).json()["replies"]
        assert [r["text"] for r in replies] == [EMPTY_REPLY]


# 4. 500s on input ------------------------------------------------------------------------------------------------

def webchat_session(client) -> tuple[str, dict]:
    session = client.post("/api/webchat/session").json()
    return session["conversation_id"], {"Authorization": f"Bearer {session['token']}"}


@pytest.mark.parametrize("after", [str(2**63), str(10**30), "-1", "abc"])
def test_huge_or_bad_cursors_are_refused_with_a_reason(tmp_path, after):
    with app_for(tmp_path) as client:
        cid, auth = webchat_session(client)
        listed = client.get(f"/api/webchat/conversations/{cid}/messages?after={after}", headers=auth)
        assert listed.status_code == 422 and listed.json()["error"]
        value = '"abc"' if after == "abc" else after
        body = '{"client_id": "c1", "text": "你好", "after": ' + value + "}"
        sent = client.post(f"/api/webchat/conversations/{cid}/messages", headers={**auth, "Content-Type": "application/json"}, content=body)
        assert sent.status_code == 422 and sent.json()["error"]


def test_a_websocket_hello_with_a_huge_cursor_still_syncs(tmp_path):
    with app_for(tmp_path) as client:
        session = client.post("/api/webchat/session").json()
        with client.websocket_connect("/ws/chat") as ws:
            ws.send_text(json.dumps({"type": "hello", "conversation_id": session["conversation_id"], "token": session["token"],
                                     "after": 2**64}))
            assert ws.receive_json()["type"] == "ready"
            ws.send_text("[" * 20000)  # too deep: refused with a frame, the socket stays open
            assert ws.receive_json()["code"] == "bad_request"
            ws.send_json({"type": "ping"})
            assert ws.receive_json() == {"type": "pong"}


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 40 + b"1" + b"}" * 40])
def test_deeply_nested_json_is_refused_before_parsing(tmp_path, body):
    with app_for(tmp_path) as client:
        response = client.post("/api/chat", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400 and "嵌套" in response.json()["error"]


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b"[" * 100_000, b'{"next_action": "x",', b"\xff\xfe"])
def test_malformed_or_deeply_nested_action_calls_get_a_clear_400(tmp_path, body):
    # The action endpoint parses without a depth scan (bot/action_webhook.py): nesting past the parser's limit is
    # refused like any malformed body, never a crash of the request
    with app_for(tmp_path, peer=LOOPBACK) as client:
        response = client.post("/webhook", content=body, headers={"X-Action-Token": TOKEN, "Content-Type": "application/json"})
        assert response.status_code == 400 and response.json() == {"error": "请求体不是有效的 JSON"}


def test_compressed_bodies_are_refused_on_public_routes_and_bad_deflate_on_the_webhook(tmp_path):
    with app_for(tmp_path, peer=LOOPBACK) as client:
        chat = client.post("/api/chat", content=b"not zlib at all", headers={"Content-Encoding": "deflate", "Content-Type": "application/json"})
        assert chat.status_code == 415 and "压缩" in chat.json()["error"]
        hook = client.post("/webhook", content=b"not zlib at all", headers={"Content-Encoding": "deflate", "X-Action-Token": TOKEN})
        assert hook.status_code == 400
        good = client.post("/webhook", content=zlib.compress(json.dumps({**ACTION_CALL, "next_action": "nope"}).encode()),
                           headers={"Content-Encoding": "deflate", "X-Action-Token": TOKEN})
        assert good.status_code == 404  # inflated and handed to the executor


@pytest.mark.parametrize("encrypt", ["", "!!!not-base64!!!", "QUJD", "A" * 64])
def test_a_signed_wechat_message_that_does_not_decrypt_gets_400(tmp_path, encrypt):
    settings = dict(wechat_enabled=True, wechat_token=WECHAT_TOKEN, wechat_app_id=WECHAT_APP_ID, wechat_app_secret=WECHAT_APP_SECRET,
                    wechat_encoding_aes_key=WECHAT_AES_KEY, wechat_mode="safe", wechat_api_base="http://127.0.0.1:9/cgi-bin/")
    with app_for(tmp_path, **settings) as client:
        user = WeChatUser(client)
        timestamp, nonce = "1700000000", random_string(10)
        query = user.signed_query(timestamp, nonce)
        from wechatpy.utils import WeChatSigner

        signer = WeChatSigner()
        signer.add_data(WECHAT_TOKEN, timestamp, nonce, encrypt)
        query.update(encrypt_type="aes", msg_signature=signer.signature)
        body = xmltodict.unparse({"xml": {"ToUserName": ACCOUNT, "Encrypt": encrypt}})
        response = client.post("/channels/wechat", params=query, content=body.encode(), headers={"Content-Type": "text/xml"})
        assert response.status_code == 400


# 5. A decompression bomb raised memory by 360 MB before it was refused -------------------------------------------

def test_a_deflate_bomb_is_refused_without_inflating_it(tmp_path):
    bomb = zlib.compress(b"\0" * (200 * 1024 * 1024), 9)
    assert len(bomb) < 300 * 1024
    tracemalloc.start()
    with pytest.raises(ValueError):
        inflate(bomb, MAX_WEBHOOK_BODY)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 3 * MAX_WEBHOOK_BODY  # bounded by the cap, not by the 200 MB it would inflate to
    with app_for(tmp_path, peer=LOOPBACK) as client:
        response = client.post("/webhook", content=bomb, headers={"Content-Encoding": "deflate", "X-Action-Token": TOKEN})
        assert response.status_code == 413


# 6. Concurrent duplicates: one of them got 200 with no replies ----------------------------------------------------

@pytest.mark.parametrize("path", ["/api/chat", "webchat"])
def test_concurrent_copies_of_one_message_all_get_its_replies_and_run_once(tmp_path, path):
    rasa = FakeRasa(echo)
    rasa.gate = threading.Event()
    with app_for(tmp_path, rasa) as client:
        if path == "webchat":
            cid, auth = webchat_session(client)

            def send(_):
                r = client.post(f"/api/webchat/conversations/{cid}/messages", headers=auth, json={"client_id": "same-1", "text": "身份证"})
                return [m["text"] for m in r.json()["messages"] if m["direction"] == "out"]
        else:
            def send(_):
                r = client.post("/api/chat", json={"sender": "dup", "text": "身份证", "client_id": "same-1"})
                return [m["text"] for m in r.json()["replies"]]
        with ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(send, n) for n in range(6)]
            threading.Timer(0.5, rasa.gate.set).start()
            results = [f.result(timeout=30) for f in futures]
        assert rasa.calls == ["身份证"]
        assert all(result == ["收到：身份证"] for result in results), results


# 8. Booking look-ups told whether a code exists; a reused request_id returned another person's code -----------------

def test_booking_lookups_answer_the_same_for_unknown_codes_and_wrong_phones(tmp_path):
    from tests.booking.test_booking_api import create, next_days

    with app_for(tmp_path) as client:
        day = next_days(1)[0]
        booked = create(client, day).json()
        answers = [client.get(f"/api/appointments/{code}?phone={phone}") for code, phone in
                   [(booked["code"], "13900000000"), (booked["code"], "12"), ("ZZZZZZ", "13812345678"), ("ZZZZZZ", "bad")]]
        assert {(a.status_code, json.dumps(a.json(), ensure_ascii=False)) for a in answers} == {
            (404, json.dumps(answers[0].json(), ensure_ascii=False))}
        cancel = client.post(f"/api/appointments/{booked['code']}/cancel", json={"phone": "139"})
        assert cancel.status_code == 404 and cancel.json() == answers[0].json()


def test_a_request_id_is_bound_to_the_person_who_used_it(tmp_path):
    from tests.booking.test_booking_api import create, next_days

    with app_for(tmp_path) as client:
        day = next_days(1)[0]
        first = create(client, day, request_id="click-1").json()
        assert create(client, day, request_id="click-1").json()["code"] == first["code"]  # a double click: same booking
        other = create(client, day, request_id="click-1", phone="13900001111", name="王五")
        assert other.status_code == 409 and first["code"] not in other.text and "请求编号" in other.text


# 9. A 10 MB body was read whole; unknown keys accepted; no HSTS ------------------------------------------------------

def test_oversized_bodies_and_unknown_keys_are_refused(tmp_path):
    with app_for(tmp_path) as client:
        big = client.post("/api/chat", content=b'{"sender": "a", "text": "' + b"x" * (10 * 1024 * 1024) + b'"}',
                          headers={"Content-Type": "application/json"})
        assert big.status_code == 413 and "过大" in big.json()["error"]
        extra = client.post("/api/chat", json={"sender": "a", "text": "你好", "admin": True})
        assert extra.status_code == 422


@pytest.mark.parametrize("path", ["/", "/guides", "/api/guides/search?q=身份证", "/console/login", "/healthz", "/docs"])
def test_security_headers_on_every_page_and_hsts_on_https(tmp_path, path):
    with app_for(tmp_path, public_url="https://12345.jiajiang.gov.cn") as client:
        response = client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["strict-transport-security"].startswith("max-age=")
        assert "referrer-policy" in response.headers
        assert "x-frame-options" in response.headers or "frame-ancestors" in response.headers.get("content-security-policy", "")
    with app_for(tmp_path / "plain", public_url="http://127.0.0.1:8000") as client:
        assert "strict-transport-security" not in client.get(path).headers


def test_json_depth_scanner_ignores_brackets_inside_strings():
    assert json_depth('{"text": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}') == 1
    assert json_depth('[[[]]]') == 3
    assert json_depth('{"a": "\\"[[["}') == 1
