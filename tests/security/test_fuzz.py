"""Fuzzing every entry point with hypothesis: every JSON route of the app (paths, query strings and bodies), the web
chat, signed WeChat messages (wechatpy) and signed Twilio webhooks (RequestValidator). The contract: never a 5xx,
never an empty list of replies for a citizen's message."""
import json
import string
import xml.etree.ElementTree as ET

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import create_app
from bot.settings import Settings
from tests.channel_helpers import (
    OPERATOR,
    TWILIO_TOKEN,
    WECHAT_AES_KEY,
    WECHAT_APP_ID,
    WECHAT_APP_SECRET,
    WECHAT_TOKEN,
    Caller,
    WeChatUser,
    message_xml,
)
from tests.fakes import FakeRasa, received

PUBLIC = "https://12345.jiajiang.example.gov.cn"
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
scalars = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False) | text
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4), max_leaves=20)
segments = st.text(alphabet=string.ascii_letters + string.digits + "-_.~%中文", min_size=1, max_size=40)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    values = dict(database_url=f"sqlite:///{tmp / 'app.db'}", var_dir=str(tmp / "var"), public_url=PUBLIC,
                  wechat_enabled=True, wechat_token=WECHAT_TOKEN, wechat_app_id=WECHAT_APP_ID, wechat_app_secret=WECHAT_APP_SECRET,
                  wechat_encoding_aes_key=WECHAT_AES_KEY, wechat_mode="compatible", wechat_api_base="http://127.0.0.1:9/cgi-bin/",
                  voice_enabled=True, twilio_auth_token=TWILIO_TOKEN, voice_operator_number=OPERATOR, admin_token="a" * 40,
                  webchat_sessions_per_ip=100_000, webchat_messages_per_ip=100_000)
    rasa = FakeRasa(lambda message: received(message[:20])).client()
    with TestClient(create_app(Settings(**values), rasa=rasa), client=("198.51.100.7", 50000)) as c:
        yield c


def all_routes(routes):
    """(method, path) of every HTTP route, through included routers (FastAPI keeps them as nested routers)."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from all_routes(route.original_router.routes)
        elif isinstance(route, APIRoute):
            yield from ((method, route.path) for method in sorted(route.methods - {"HEAD"}))


def json_routes(app) -> list[tuple[str, str]]:
    """Every HTTP route but the channels' signed webhooks (fuzzed below with real signatures)."""
    return sorted({r for r in all_routes(app.routes) if not r[1].startswith("/channels/")})


def fill(path: str, data) -> str:
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + data.draw(segments) + path[end + 1:]
    return path


def test_every_json_route_is_fuzzed(client):
    routes = json_routes(client.app)
    assert ("POST", "/api/chat") in routes and ("POST", "/api/appointments") in routes and len(routes) > 30


@FUZZ
@given(data=st.data())
def test_no_json_route_answers_5xx(client, data):
    method, path = data.draw(st.sampled_from(json_routes(client.app)))
    query = data.draw(st.dictionaries(st.sampled_from(["q", "top", "after", "date", "item", "phone", "format", "status", "page", "x"]),
                                      text | st.integers(-(2**70), 2**70).map(str), max_size=4))
    url = fill(path, data)
    if method == "GET":
        response = client.get(url, params=query)
    else:
        body = data.draw(json_values)
        response = client.request(method, url, params=query, content=json.dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code < 500, (method, url, response.status_code, response.text[:300])


@FUZZ
@given(message=text, sender=st.text(min_size=1, max_size=40), client_id=st.none() | st.text(max_size=70))
def test_chat_always_answers(client, message, sender, client_id):
    response = client.post("/api/chat", json={"sender": sender, "text": message, "client_id": client_id})
    assert response.status_code < 500
    if response.status_code == 200:
        assert response.json()["replies"] and all(r["text"] for r in response.json()["replies"])


@FUZZ
@given(message=text, after=st.integers(-(2**70), 2**70))
def test_web_chat_send_always_answers(client, message, after):
    ids = client.post("/api/webchat/session").json()
    auth = {"Authorization": f"Bearer {ids['token']}"}
    url = f"/api/webchat/conversations/{ids['conversation_id']}/messages"
    response = client.post(url, headers=auth, json={"client_id": "c1", "text": message, "after": after})
    assert response.status_code < 500
    if response.status_code == 200:
        assert [m for m in client.get(url, headers=auth).json()["messages"] if m["direction"] == "out" and m["text"]]


@FUZZ
@given(kind=st.sampled_from(["text", "voice", "image", "event", "location", "weird"]), content=text, extra=text)
def test_signed_wechat_messages_never_5xx(client, kind, content, extra):
    user = WeChatUser(client, encrypt=False)
    fields = {"text": {"Content": content, "MsgId": user.next_msg_id()}, "voice": {"Recognition": content, "MsgId": user.next_msg_id()},
              "image": {"PicUrl": content}, "event": {"Event": content[:20] or "subscribe", "EventKey": extra},
              "location": {"Label": content}, "weird": {"Whatever": content}}[kind]
    response = user.post_xml(message_xml(user.openid, kind, **fields))
    assert response.status_code < 500
    if response.status_code == 200 and kind == "text" and content.strip():
        assert response.text == "success" or "<Content>" in response.text


@FUZZ
@given(body=st.binary(max_size=2000))
def test_arbitrary_signed_wechat_bodies_never_5xx(client, body):
    user = WeChatUser(client, encrypt=False)
    query = user.signed_query("1700000000", "nonce")
    assert client.post("/channels/wechat", params=query, content=body).status_code < 500


@FUZZ
@given(url=st.sampled_from(["/channels/voice", "/channels/voice/gather", "/channels/voice/confirm", "/channels/voice/silence",
                            "/channels/voice/dialled"]),
       speech=text, digits=st.text(alphabet="0123456789*#x", max_size=8), confidence=text | st.floats().map(str))
def test_signed_twilio_webhooks_always_answer_with_speech(client, url, speech, digits, confidence):
    caller = Caller(client, PUBLIC)
    response = caller.post(url, SpeechResult=speech, Digits=digits, Confidence=confidence, DialCallStatus=speech[:20])
    assert response.status_code == 200, response.text[:300]
    root = ET.fromstring(response.content)
    assert root.tag == "Response" and len(root) > 0  # always something for the caller: speech, a transfer or a hang-up
