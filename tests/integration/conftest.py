"""Start the real trained Rasa model and the app once for the integration tests, and stop them."""

import uuid

import httpx
import pytest

from bot.launcher import Stack, free_port


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    db = tmp_path_factory.mktemp("db") / "app.db"
    with Stack(free_port(), free_port(), extra_env={"DATABASE_URL": f"sqlite:///{db}"}, tag="-test") as running:
        yield running


@pytest.fixture
def chat(stack):
    """A new citizen: chat(text) → replies."""
    sender = f"citizen-{uuid.uuid4().hex[:16]}"  # a port number was reused across a long run: two tests shared a conversation
    client = httpx.Client(base_url=stack.url, timeout=30)

    def send(text: str) -> list[dict]:
        response = client.post("/api/chat", json={"sender": sender, "text": text})
        assert response.status_code == 200, response.text
        return response.json()["replies"]

    yield send
    client.close()


CONSOLE_ADMIN, CONSOLE_ADMIN_PASSWORD = "admin", "Admin-pass-2026"


@pytest.fixture(scope="session")
def console_stack(tmp_path_factory):
    """Rasa and the app with a console admin and round-the-clock duty hours (tests change them in the console)."""
    db = tmp_path_factory.mktemp("console-db") / "app.db"
    env = {"DATABASE_URL": f"sqlite:///{db}", "CONSOLE_ADMIN_USER": CONSOLE_ADMIN, "CONSOLE_ADMIN_PASSWORD": CONSOLE_ADMIN_PASSWORD,
           "HANDOFF_DUTY_HOURS": "00:00-24:00", "HANDOFF_DUTY_DAYS": "every_day"}
    with Stack(free_port(), free_port(), extra_env=env, tag="-console-test") as running:
        yield running
