"""The app with Rasa replaced by a fake that runs the real custom actions through the action endpoint's executor and
note (as Rasa would call /webhook), so each kind of turn comes back with the outcome note real turns carry."""
import json

import httpx
import pytest
from fastapi.testclient import TestClient
from handoff.conftest import HTTPS, make_settings

from bot.action_webhook import executor
from bot.app import create_app
from bot.insight import outcomes
from bot.rasa_client import RasaClient

# text -> (intent, action) as the trained model would classify and predict them
TURNS = {
    "身份证丢了要带什么材料": ("ask_materials", "action_answer_guide"),
    "办证": ("ask_item", "action_answer_guide"),
    "我想在月球上开个火锅店咋个弄": ("ask_item", "action_answer_guide"),
    "转人工": ("request_human", "action_request_human"),
    "确认预约": ("affirm", "action_submit_booking"),
    "你好": ("greet", "action_small_talk"),
    "城南菜市场几点关门": ("out_of_scope", "action_small_talk"),
}


class ActionRasa:
    def __init__(self):
        self.down = False
        self.booking_slots: dict = {}  # what the booking form collected, for "确认预约"

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/status":
            return httpx.Response(200, json={"model_file": "fake.tar.gz"})
        if "/tracker" in request.url.path:
            return httpx.Response(200, json={"events": [], "slots": {}, "paused": False})
        if self.down:
            return httpx.Response(500, json={"error": "down"})
        body = json.loads(request.content)
        sender, text = body["sender"], body["message"]
        intent, action = TURNS.get(text, ("ask_item", "action_answer_guide"))
        slots = {"item": None, "aspect": None, "candidates": None, **(self.booking_slots if action == "action_submit_booking" else {})}
        call = {"next_action": action, "sender_id": sender, "version": "3.6.2", "domain": {},
                "tracker": {"sender_id": sender, "slots": slots, "paused": False, "followup_action": None, "active_loop": {},
                            "latest_action_name": "action_listen", "events": [{"event": "user", "text": text,
                                                                               "parse_data": {"intent": {"name": intent}}}],
                            "latest_message": {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []}}}
        result = outcomes.add_note(call, await executor.run(call))  # what /webhook answers Rasa
        out = []
        for m in result["responses"]:
            if m.get("custom"):
                out.append({"recipient_id": sender, "custom": m["custom"]})
            elif m.get("text") or m.get("buttons"):
                out.append({"recipient_id": sender, "text": m.get("text"), "buttons": m.get("buttons") or []})
        return httpx.Response(200, json=out)


@pytest.fixture
def action_rasa():
    return ActionRasa()


@pytest.fixture
def insight_client(tmp_path, action_rasa):
    rasa = RasaClient("http://rasa.test", transport=httpx.MockTransport(action_rasa.handle))
    app = create_app(make_settings(tmp_path), rasa=rasa)
    with TestClient(app, base_url=HTTPS) as client:
        yield client
