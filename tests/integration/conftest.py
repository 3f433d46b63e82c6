"""Start the real trained Rasa model and the app once for the integration tests, and stop them."""
import socket

import httpx
import pytest

from bot.launcher import Stack


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    db = tmp_path_factory.mktemp("db") / "app.db"
    with Stack(free_port(), free_port(), extra_env={"DATABASE_URL": f"sqlite:///{db}"}, tag="-test") as running:
        yield running


@pytest.fixture
def chat(stack):
    """A new citizen: chat(text) → replies."""
    sender = f"citizen-{free_port()}"
    client = httpx.Client(base_url=stack.url, timeout=30)

    def send(text: str) -> list[dict]:
        response = client.post("/api/chat", json={"sender": sender, "text": text})
        assert response.status_code == 200, response.text
        return response.json()["replies"]

    yield send
    client.close()
