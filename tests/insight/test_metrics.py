"""/metrics in the Prometheus text format, read back with prometheus-client's own parser; loopback only, or a token."""
import httpx
from fastapi.testclient import TestClient
from handoff.conftest import HTTPS, make_settings
from prometheus_client.parser import text_string_to_metric_families

from bot.app import create_app
from bot.rasa_client import RasaClient


def families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(family, **labels) -> float:
    return sum(s.value for s in family.samples if all(s.labels.get(k) == v for k, v in labels.items()) and s.name.endswith("_total"))


def test_metrics_count_turns_by_channel_and_outcome(insight_client):
    client = insight_client
    local = TestClient(client.app, base_url=HTTPS, client=("127.0.0.1", 40000))
    before = families(local.get("/metrics").text)
    baseline = value(before["assistant_turns"], channel="web", outcome="answered") if "assistant_turns" in before else 0
    client.post("/api/chat", json={"sender": "m1", "text": "身份证丢了要带什么材料"})
    client.post("/api/chat", json={"sender": "m2", "text": "办证"})
    response = local.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    found = families(response.text)
    assert value(found["assistant_turns"], channel="web", outcome="answered") == baseline + 1
    assert value(found["assistant_turns"], channel="web", outcome="options") >= 1
    assert found["assistant_turns"].type == "counter"
    latency = found["assistant_turn_seconds"]
    assert latency.type == "histogram"
    assert any(s.name == "assistant_turn_seconds_count" and s.labels == {"channel": "web"} and s.value >= 2 for s in latency.samples)
    assert any(s.name == "assistant_rasa_seconds_count" and s.value >= 2 for s in found["assistant_rasa_seconds"].samples)
    assert found["assistant_knowledge_version"].samples[0].value == 1
    assert found["assistant_handoff_queue_length"].samples[0].value == 0
    assert "assistant_rasa_queue_length" in found and "assistant_errors" in found


def test_metrics_answer_loopback_only_without_a_token(insight_client):
    assert insight_client.get("/metrics").status_code == 403  # the test client's peer is not loopback


def test_metrics_with_a_token_answer_any_peer_with_it(tmp_path):
    rasa = RasaClient("http://rasa.test", transport=httpx.MockTransport(lambda r: httpx.Response(200, json=[])))
    app = create_app(make_settings(tmp_path, metrics_token="m" * 32), rasa=rasa)
    with TestClient(app, base_url=HTTPS) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        response = client.get("/metrics", headers={"Authorization": "Bearer " + "m" * 32})
        assert response.status_code == 200 and "assistant_knowledge_version" in families(response.text)
