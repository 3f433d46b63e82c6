"""The app with Rasa replaced by a fake over httpx.MockTransport: it runs the handoff actions the way the
real model's rules would (转人工, 我要投诉, 再见), answers everything else with an echo, and honours
pause/resume events like Rasa (a paused tracker logs messages and answers nothing). It runs no forms: the flows
that are Rasa forms (留言/回电 off duty, appeals) are tested against the real model in tests/integration."""
import json
import re

import httpx
import pytest
from fastapi.testclient import TestClient
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.guides import ActionFallbackSearch
from actions.handoff import ActionOfferRating, ActionRequestHuman
from bot.app import create_app
from bot.rasa_client import RasaClient
from bot.settings import Settings
from knowledge.answers import answer
from knowledge.service import get_index

ADMIN, ADMIN_PASSWORD = "admin", "Admin-pass-2026"
HTTPS = "https://testserver"


class FakeRasa:
    INTENTS = {"转人工": "request_human", "我要投诉": "complain", "再见": "goodbye", "我要评价": "rate_service"}
    GUIDES = {"低保要什么材料": "最低生活保障", "身份证要什么材料": "居民身份证办理（包括临时）"}

    def __init__(self):
        self.events: list[tuple[str, str]] = []  # (conversation id, "pause" | "resume")
        self.paused: set[str] = set()
        self.logged: dict[str, list[str]] = {}  # user messages per conversation, as the tracker logs them
        self.fallbacks: dict[str, list[str]] = {}

    async def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/status":
            return httpx.Response(200, json={"model_file": "fake.tar.gz"})
        match = re.match(r"^/conversations/(.+)/tracker/events$", path)
        if match:
            sender, kind = match.group(1), json.loads(request.content)["event"]
            self.events.append((sender, kind))
            (self.paused.add if kind == "pause" else self.paused.discard)(sender)
            return httpx.Response(200, json={"sender_id": sender})
        match = re.match(r"^/conversations/(.+)/tracker$", path)
        if match:
            sender = match.group(1)
            events = [{"event": "user", "text": t, "parse_data": {"intent": {"name": self.INTENTS.get(t, "ask_item"), "confidence": 0.93}}}
                      for t in self.logged.get(sender, [])]
            return httpx.Response(200, json={"sender_id": sender, "paused": sender in self.paused, "events": events,
                                             "slots": {"item": None}})
        body = json.loads(request.content)
        sender, text = body["sender"], body["message"]
        self.logged.setdefault(sender, []).append(text)
        if sender in self.paused:
            return httpx.Response(200, json=[])
        intent = self.INTENTS.get(text, "nlu_fallback" if text.startswith("嗯") else "rate_service" if "满意" in text else "ask_item")
        entities = []
        payload = re.match(r"^/(\w+)(\{.*\})?$", text)  # "/request_human{...}": an intent and entities, as Rasa reads it
        if payload:
            intent = payload.group(1)
            entities = [{"entity": k, "value": v} for k, v in json.loads(payload.group(2) or "{}").items()]
        action = {"request_human": ActionRequestHuman(), "complain": ActionRequestHuman(), "goodbye": ActionOfferRating(),
                  "rate_service": ActionOfferRating(), "nlu_fallback": ActionFallbackSearch()}.get(intent)
        if action is None and text in self.GUIDES:  # a real guide answer, as action_answer_guide gives it
            reply = answer(get_index().kb.by_name(self.GUIDES[text]), "materials")
            return httpx.Response(200, json=[{"recipient_id": sender, "text": reply.text, "buttons": reply.buttons}])
        if action is None:
            return httpx.Response(200, json=[{"recipient_id": sender, "text": f"机器人答复：{text}"}])
        self.fallbacks.setdefault(sender, []).append(intent)
        events = [{"event": "user", "parse_data": {"intent": {"name": i}}} for i in self.fallbacks[sender]]
        tracker = Tracker(sender, {}, {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities},
                          events, False, None, {}, "action_listen")
        dispatcher = CollectingDispatcher()
        await action.run(dispatcher, tracker, {})
        out = [{"recipient_id": sender, "text": "再见，祝您办事顺利！"}] if intent == "goodbye" else []
        for m in dispatcher.messages:
            if m.get("custom"):
                out.append({"recipient_id": sender, "custom": m["custom"]})
            else:
                out.append({"recipient_id": sender, "text": m.get("text"), "buttons": m.get("buttons") or []})
        return httpx.Response(200, json=out)


def make_settings(tmp_path, **overrides) -> Settings:
    values = dict(database_url=f"sqlite:///{tmp_path / 'app.db'}", console_admin_user=ADMIN, console_admin_password=ADMIN_PASSWORD,
                  handoff_duty_hours="00:00-24:00", handoff_duty_days="every_day")
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def fake_rasa():
    return FakeRasa()


@pytest.fixture
def app_client(tmp_path, fake_rasa):
    """(TestClient on https, the app): more clients for the same running app come from `other_client(app)`."""
    rasa = RasaClient("http://rasa.test", transport=httpx.MockTransport(fake_rasa.handle))
    app = create_app(make_settings(tmp_path), rasa=rasa)
    with TestClient(app, base_url=HTTPS) as client:
        yield client


def other_client(client: TestClient) -> TestClient:
    """Another browser for the same running app (its own cookies)."""
    return TestClient(client.app, base_url=HTTPS)


def login(client: TestClient, username: str, password: str, next_url: str = "/console") -> httpx.Response:
    page = client.get(f"/console/login?next={next_url}")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
    return client.post("/console/login", data={"username": username, "password": password, "login_token": token, "next": next_url},
                       follow_redirects=False)


def csrf_of(client: TestClient) -> str:
    page = client.get("/console")
    assert page.status_code == 200, page.text
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)


class Operator:
    """A logged-in console user: JSON API calls with the CSRF token."""

    def __init__(self, client: TestClient, username: str, password: str):
        self.client = client
        response = login(client, username, password)
        assert response.status_code == 303 and response.headers["location"] == "/console", response.text
        self.csrf = csrf_of(client)

    def get(self, url: str, **kw) -> httpx.Response:
        return self.client.get(url, **kw)

    def post(self, url: str, json: dict | None = None, **kw) -> httpx.Response:
        return self.client.post(url, json=json or {}, headers={"X-CSRF-Token": self.csrf, **kw.pop("headers", {})}, **kw)


def admin_and_operator(client: TestClient, username: str = "wang", display_name: str = "8号坐席") -> tuple[Operator, Operator]:
    admin = Operator(client, ADMIN, ADMIN_PASSWORD)
    created = admin.post("/console/api/admin/operators", {"username": username, "display_name": display_name, "role": "operator",
                                                          "password": "Operator-pass-1"})
    assert created.status_code == 201, created.text
    return admin, Operator(other_client(client), username, "Operator-pass-1")


class Citizen:
    """A web chat page over the HTTP transport: its own conversation and token."""

    def __init__(self, client: TestClient):
        self.client = other_client(client)
        session = self.client.post("/api/webchat/session").json()
        self.id, self.token = session["conversation_id"], session["token"]
        self.after = 0
        self.sent = 0

    def say(self, text: str) -> list[dict]:
        """Send; returns the messages that came back after it (the replies, if any)."""
        self.sent += 1
        response = self.client.post(f"/api/webchat/conversations/{self.id}/messages", headers={"Authorization": f"Bearer {self.token}"},
                                    json={"client_id": f"c{self.sent}", "text": text, "after": self.after})
        assert response.status_code == 200, response.text
        return self._take(response.json()["messages"], skip_own=True)

    def inbox(self) -> list[dict]:
        response = self.client.get(f"/api/webchat/conversations/{self.id}/messages?after={self.after}",
                                   headers={"Authorization": f"Bearer {self.token}"})
        return self._take(response.json()["messages"], skip_own=False)

    def _take(self, messages: list[dict], skip_own: bool) -> list[dict]:
        if messages:
            self.after = messages[-1]["id"]
        return [m for m in messages if m["direction"] == "out"]


def texts(messages: list[dict]) -> str:
    return "\n".join(m["text"] for m in messages)
