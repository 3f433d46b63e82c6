"""The app's HTTP API with Rasa replaced by httpx.MockTransport (no network)."""
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.conversations.models import Message
from bot.rasa_client import RasaClient
from bot.settings import Settings
from tests.fakes import FakeRasa


def make_client(tmp_path, rasa):
    """`rasa`: a tests/fakes.py FakeRasa, or a handler for httpx.MockTransport."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'app.db'}")
    client = rasa.client() if isinstance(rasa, FakeRasa) else RasaClient("http://rasa.test", transport=httpx.MockTransport(rasa))
    return TestClient(create_app(settings, rasa=client))


def rows(client):
    with client.app.state.database.session() as session:
        return session.scalars(select(Message).order_by(Message.id)).all()


def test_chat_round_trip_is_logged(tmp_path):
    with make_client(tmp_path, FakeRasa()) as client:
        response = client.post("/api/chat", json={"sender": "u1", "text": "身份证丢了"})
        assert response.status_code == 200
        reply = response.json()["replies"][0]
        assert reply["text"].startswith("收到") and reply["buttons"] == [{"title": "办理流程", "payload": "/ask_procedure"}]
        logged = rows(client)
        assert [(m.direction, m.status) for m in logged] == [("in", "answered"), ("out", "sent")]
        assert logged[0].text == "身份证丢了"


def test_pinyin_among_characters_reaches_rasa_as_words_and_the_transcript_keeps_what_was_typed(tmp_path):
    rasa = FakeRasa()
    with make_client(tmp_path, rasa) as client:
        client.post("/api/chat", json={"sender": "u1", "text": "chuangye补贴多久能daozhang"})
        assert rasa.calls == ["创业补贴多久能到账"]
        assert rows(client)[0].text == "chuangye补贴多久能daozhang"


@pytest.mark.parametrize("text, words", [("   ", "空的"), ("问" * 501, "超过了500字")])
def test_empty_and_oversized_get_a_chinese_reply_and_are_logged(tmp_path, text, words):
    rasa = FakeRasa()
    with make_client(tmp_path, rasa) as client:
        response = client.post("/api/chat", json={"sender": "u1", "text": text})
        assert response.status_code == 200 and words in response.json()["replies"][0]["text"]
        assert [m.status for m in rows(client)] == ["rejected", "sent"]
    assert rasa.calls == []


@pytest.mark.parametrize(
    "body, kwargs",
    [(None, {"content": b"{not json", "headers": {"content-type": "application/json"}}),
     (None, {"json": {"text": "缺少 sender"}}),
     (None, {"json": {"sender": "u", "text": 5}})],
)
def test_malformed_requests_get_4xx_with_reason(tmp_path, body, kwargs):
    with make_client(tmp_path, FakeRasa()) as client:
        response = client.post("/api/chat", **kwargs)
        assert 400 <= response.status_code < 500
        assert response.json()["error"] == "请求格式不正确" and response.json()["reasons"]


def test_rasa_down_apologises_with_hotline_and_keeps_the_message(tmp_path):
    def down(request):
        raise httpx.ConnectError("connection refused")

    with make_client(tmp_path, down) as client:
        response = client.post("/api/chat", json={"sender": "u1", "text": "办身份证要带什么"})
        assert response.status_code == 200
        assert "12345" in response.json()["replies"][0]["text"]
        logged = rows(client)
        assert logged[0].text == "办身份证要带什么" and logged[0].status == "failed"
        assert client.get("/healthz").status_code == 503


def test_retry_with_same_client_id_is_processed_once(tmp_path):
    rasa = FakeRasa()
    with make_client(tmp_path, rasa) as client:
        first = client.post("/api/chat", json={"sender": "u1", "text": "社保卡", "client_id": "m-1"}).json()
        second = client.post("/api/chat", json={"sender": "u1", "text": "社保卡", "client_id": "m-1"}).json()
        assert first["replies"] == second["replies"]
        assert len([m for m in rows(client) if m.direction == "in"]) == 1
    assert rasa.calls == ["社保卡"]


def test_a_failing_handoff_desk_keeps_the_message_and_undoes_only_its_own_writes(tmp_path, monkeypatch):
    """The message and the desk's routing share one transaction; when the desk fails, the message is stored alone."""
    from bot.handoff.desk import Desk

    def broken(self, session, conversation_id, text):
        session.add(Message(conversation_id=conversation_id, direction="out", text="写了一半", status="sent"))
        session.flush()
        raise RuntimeError("desk broke")

    monkeypatch.setattr(Desk, "route_in", broken)
    rasa = FakeRasa()
    with make_client(tmp_path, rasa) as client:
        with pytest.raises(RuntimeError, match="desk broke"):
            client.post("/api/chat", json={"sender": "u1", "text": "身份证丢了"})
        assert [(m.direction, m.text, m.status) for m in rows(client)] == [("in", "身份证丢了", "received")]
    assert rasa.calls == []


def test_a_failing_outcome_record_keeps_the_replies(tmp_path, monkeypatch):
    """The replies and the turn's outcome share one transaction; when storing the outcome fails, the replies are
    stored alone and the citizen gets them."""
    from bot.insight import metrics, outcomes
    from bot.insight.models import TurnOutcome

    def broken(*, db_session, **_):
        db_session.add(TurnOutcome(conversation_id="nowhere", channel="web", outcome="answered"))
        db_session.flush()
        raise RuntimeError("outcome broke")

    monkeypatch.setattr(outcomes, "record", broken)
    errors = metrics.ERRORS.labels("record")._value.get()
    with make_client(tmp_path, FakeRasa()) as client:
        reply = client.post("/api/chat", json={"sender": "u1", "text": "身份证丢了"})
        assert reply.status_code == 200 and reply.json()["replies"]
        stored = [(m.direction, m.status) for m in rows(client)]
        assert stored == [("in", "answered")] + [("out", "sent")] * len(reply.json()["replies"])
        with client.app.state.database.session() as session:
            assert session.scalars(select(TurnOutcome)).all() == []
    assert metrics.ERRORS.labels("record")._value.get() == errors + 1


def test_guide_api(tmp_path):
    with make_client(tmp_path, FakeRasa()) as client:
        hits = client.get("/api/guides/search", params={"q": "身份证丢了", "top": 2}).json()
        assert hits[0]["name"] == "居民身份证办理（包括临时）" and hits[0]["matched"]
        guide = client.get(f"/api/guides/{hits[0]['id']}").json()
        assert guide["fields"]["申请材料"] and guide["fields"]["核对日期"]
        missing = client.get("/api/guides/no-such-guide")
        assert missing.status_code == 404 and "没有编号" in missing.json()["error"]
        assert client.get("/api/guides/search").status_code == 422
        assert client.get("/healthz").json()["rasa"] is True


def test_every_page_loads_its_assets_from_the_app_itself(tmp_path):
    """An isolated government network reaches no CDN: /docs, /redoc and the pages load only local assets."""
    import re

    from fastapi.testclient import TestClient

    from bot.app import create_app
    from bot.settings import Settings

    with TestClient(create_app(Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}", var_dir=str(tmp_path)))) as client:
        for page in ["/docs", "/redoc", "/", "/guides", "/console/login"]:
            html = client.get(page, follow_redirects=True).text
            assets = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="([^"]+)"', html)
            assert assets, page
            assert [a for a in assets if a.startswith(("http:", "https:", "//"))] == [], page
            for asset in assets:
                assert client.get(asset).status_code == 200, (page, asset)
