"""Tracker compaction: where the cut falls, what the new session start carries, and that the app compacts every
N turns in the background without losing a reply (Rasa replaced by httpx.MockTransport)."""
import json

import httpx
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.conversations.compaction import compacted, cut_index
from bot.rasa_client import RasaClient
from bot.settings import Settings


def turn(ts: float, text: str) -> list[dict]:
    return [{"event": "user", "text": text, "timestamp": ts}, {"event": "action", "name": "action_answer", "timestamp": ts + 0.1},
            {"event": "action", "name": "action_listen", "timestamp": ts + 0.2}]


def test_cut_keeps_the_last_turns_and_skips_a_timestamp_tie():
    events = [e for n in range(6) for e in turn(float(n), f"问题{n}")]
    assert events[cut_index(events, 2)]["text"] == "问题4"
    assert cut_index(events, 6) is None and cut_index(events, 10) is None
    events[11]["timestamp"] = events[12]["timestamp"]  # the action before 问题4 has the same time: cut later
    assert events[cut_index(events, 2)]["text"] == "问题5"


def test_the_new_session_start_carries_slots_form_and_pause_as_they_were_at_the_cut():
    events = [e for n in range(4) for e in turn(float(n), f"问题{n}")]
    state = {"slots": {"item": "sfz", "aspect": None, "booking_date": "2026-12-05"}, "active_loop": {"name": "booking_form"},
             "paused": True}
    new = compacted(events, 6, state)
    head = [(e["event"], e.get("name"), e.get("value")) for e in new[:-6]]
    assert head == [("action", "action_session_start", None), ("session_started", None, None), ("slot", "item", "sfz"),
                    ("slot", "booking_date", "2026-12-05"), ("active_loop", "booking_form", None), ("pause", None, None),
                    ("action", "action_listen", None)]
    assert new[-6:] == events[6:] and all(e["timestamp"] <= events[6]["timestamp"] for e in new[:-6])


def test_the_app_compacts_every_n_turns_and_still_answers_each(tmp_path):
    events, replaced = [], []

    def rasa(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/status":
            return httpx.Response(200, json={"model_file": "current.tar.gz"})
        if path == "/webhooks/rest/webhook":
            text = json.loads(request.content)["message"]
            events.extend(turn(float(len(events)), text))
            return httpx.Response(200, json=[{"recipient_id": "x", "text": f"答：{text}"}])
        if path.endswith("/tracker/events") and request.method == "PUT":
            replaced.append(json.loads(request.content))
            events[:] = replaced[-1]
            return httpx.Response(200, json={})
        if path.endswith("/tracker"):
            until = request.url.params.get("until")
            return httpx.Response(200, json={"events": list(events), "slots": {"item": "sfz"} if until else {}, "paused": False})
        return httpx.Response(404)

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'app.db'}", tracker_compact_every=12)  # keeps KEEP_TURNS = 8
    with TestClient(create_app(settings, rasa=RasaClient("http://rasa.test", transport=httpx.MockTransport(rasa)))) as client:
        for n in range(25):
            response = client.post("/api/chat", json={"sender": "u1", "text": f"第{n}问"})
            assert response.json()["replies"][0]["text"] == f"答：第{n}问"
    assert len(replaced) == 2  # after turns 12 and 24
    assert [e["text"] for e in replaced[-1] if e["event"] == "user"] == [f"第{n}问" for n in range(16, 24)]
    assert ("slot", "item") in {(e["event"], e.get("name")) for e in replaced[-1]}


def test_the_kept_turns_cover_every_policy_history():
    import yaml

    from bot.conversations.compaction import KEEP_TURNS
    from bot.settings import ROOT

    policies = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))["policies"]
    histories = [p["max_history"] for p in policies if p["name"] in ("MemoizationPolicy", "TEDPolicy")]
    assert len(histories) == 2 and KEEP_TURNS > max(histories)
