"""The process-wide knowledge index: loaded once, shared by the API views and the actions."""
from __future__ import annotations

import threading

from knowledge.loader import load
from knowledge.search import SearchIndex

_index: SearchIndex | None = None
_lock = threading.Lock()


def get_index() -> SearchIndex:
    """The loaded index (built on first use; invalid guides are left out and logged by the loader)."""
    global _index
    if _index is None:
        with _lock:
            if _index is None:
                _index = SearchIndex(load())
    return _index


def reload_index() -> SearchIndex:
    """Rebuild from the files on disk (after a knowledge update; no Rasa retraining needed)."""
    global _index
    fresh = SearchIndex(load())
    with _lock:
        _index = fresh
    return fresh
