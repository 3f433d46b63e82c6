"""The app with Rasa replaced by tests/fakes.py's WebhookRasa: it runs the real custom actions through the action
endpoint's executor and note (as Rasa would call /webhook), so each kind of turn comes back with the outcome note real
turns carry."""

import pytest
from fastapi.testclient import TestClient
from handoff.conftest import HTTPS, make_settings

from bot.app import create_app
from tests.fakes import WebhookRasa


@pytest.fixture
def action_rasa():
    return WebhookRasa()


@pytest.fixture
def insight_client(tmp_path, action_rasa):
    app = create_app(make_settings(tmp_path), rasa=action_rasa.client())
    with TestClient(app, base_url=HTTPS) as client:
        yield client
