import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(TESTS.parent), str(TESTS)]

FOLDER_MARKERS = {"integration": ("rasa",), "browser": ("rasa", "browser")}


def pytest_collection_modifyitems(items):
    """Mark tests by what they start: a real Rasa, a browser, PostgreSQL, Redis."""
    for item in items:
        folder = Path(str(item.fspath)).parent.name
        for marker in FOLDER_MARKERS.get(folder, ()):
            item.add_marker(marker)
        if "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker("postgres")
        if "redis_server" in getattr(item, "fixturenames", ()):
            item.add_marker("redis")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real redis-server from Debian's package on a free loopback port (bot/engines.py), stopped afterwards."""
    from bot.engines import start_redis
    from bot.launcher import free_port

    engine = start_redis(tmp_path_factory.mktemp("redis"), free_port())
    yield engine
    engine.stop()
