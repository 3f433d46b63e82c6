"""Schemathesis against the app's OpenAPI schema: every documented JSON operation, with bodies, paths and query
strings generated from the schema, never answers 5xx. The hypothesis fuzzing of test_fuzz.py covers what the schema
does not describe (signed WeChat and Twilio webhooks, arbitrary bodies).

The operations are driven from schemathesis's hypothesis strategies rather than its pytest plugin, whose
`from_fixture` does not run under pytest 9."""
import logging

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from bot.app import create_app
from bot.settings import Settings
from tests.fakes import FakeRasa, received
from tests.security.test_fuzz import PUBLIC

EXAMPLES = 25  # per operation: about 1,300 cases over the app's operations, about a minute


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("openapi-fuzz")
    values = dict(database_url=f"sqlite:///{tmp / 'app.db'}", var_dir=str(tmp / "var"), public_url=PUBLIC, admin_token="a" * 40,
                  webchat_sessions_per_ip=100_000, webchat_messages_per_ip=100_000)
    app = create_app(Settings(**values), rasa=FakeRasa(lambda message: received(message[:20])).client())
    with TestClient(app):  # the app's services are started (lifespan) for the whole module
        yield app


def test_no_documented_operation_answers_5xx(app, caplog):
    caplog.set_level(logging.ERROR)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 60 and any(op.path == "/api/appeals/classify" for op in operations)
    failures, cases = [], 0
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
        def call(case):
            nonlocal cases
            cases += 1
            response = case.call()
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, response.status_code, response.text[:200]))

        call()
    print(f"schemathesis: {cases} cases over {len(operations)} operations, {len(failures)} answered 5xx")
    assert cases > 1000
    assert failures == []
    unhandled = [r.getMessage()[:200] for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert unhandled == []  # no exception reached the logs either
