import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(TESTS.parent), str(TESTS)]

FOLDER_MARKERS = {"integration": ("rasa",), "browser": ("rasa", "browser")}


def pytest_collection_modifyitems(items):
    """Mark tests by what they start: a real Rasa, a browser, PostgreSQL."""
    for item in items:
        folder = Path(str(item.fspath)).parent.name
        for marker in FOLDER_MARKERS.get(folder, ()):
            item.add_marker(marker)
        if "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker("postgres")
