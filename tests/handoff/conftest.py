"""The app with Rasa replaced by tests/fakes.py's ActingRasa: it runs the handoff and rating actions the way the real
model's rules would and honours pause/resume events like Rasa. It runs no forms: the flows that are Rasa forms
(留言/回电 off duty, appeals, the rating's level and comment) are tested against the real model in tests/integration."""
import re

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from tests.fakes import ActingRasa

ADMIN, ADMIN_PASSWORD = "admin", "Admin-pass-2026"
HTTPS = "https://testserver"


def make_settings(tmp_path, **overrides) -> Settings:
    values = dict(database_url=f"sqlite:///{tmp_path / 'app.db'}", console_admin_user=ADMIN, console_admin_password=ADMIN_PASSWORD,
                  handoff_duty_hours="00:00-24:00", handoff_duty_days="every_day")
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def fake_rasa():
    return ActingRasa()


@pytest.fixture
def app_client(tmp_path, fake_rasa):
    """(TestClient on https, the app): more clients for the same running app come from `other_client(app)`."""
    app = create_app(make_settings(tmp_path), rasa=fake_rasa.client())
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
