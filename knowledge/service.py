"""The process-wide knowledge index: the one place that builds and swaps it, shared by the API views and the actions.

Inside an app the index is the newest published version in the database (`refresh`, polled by bot/services.py): a
new version is built off the event loop and swapped in with one assignment, so a question in progress finishes on
the index it started with and the next one sees the new version. Each index has its own jieba tokenizer holding the
version's item names, so search tokenises new names at once (Rasa's user dictionary is for intents only and needs
no change). Without a database (tests, `kb search`) the index is built from the repo's YAML.
"""
from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import threading
from typing import TYPE_CHECKING

from knowledge.fitted import repo_index
from knowledge.search import SearchIndex

if TYPE_CHECKING:
    from bot.db import Database

log = logging.getLogger(__name__)
_index: SearchIndex | None = None
_version: int | None = None  # the database version the index was built from (None: the repo's YAML)
_digest: str | None = None  # that version's content digest
_retired: dict[str, str] = {}  # item id -> name, of items an earlier index had and the current one has not
_lock = threading.Lock()  # one build at a time; readers never wait for it


def get_index() -> SearchIndex:
    """The loaded index (built from the repo's YAML on first use when no version was loaded)."""
    global _index
    if _index is None:
        with _lock:
            if _index is None:
                _index = repo_index()
    return _index


def version() -> int | None:
    """The knowledge version this process serves (None: the repo's YAML)."""
    return _version


def retired_name(item_id: str) -> str | None:
    """The name of an item that a newer version no longer holds (for a conversation still asking about it)."""
    return _retired.get(item_id)


def swap(index: SearchIndex, number: int | None, digest: str | None = None) -> None:
    """Serve `index` from now on (one assignment: readers see the old index or the new one, never a mix)."""
    global _index, _version, _digest
    old = _index
    if old is not None:
        kept = {entry.id for entry in index.entries}
        _retired.update({entry.id: entry.name for entry in old.entries if entry.id not in kept})
        for entry in index.entries:
            _retired.pop(entry.id, None)
    _index, _version, _digest = index, number, digest
    del old
    give_back_freed_memory()


def give_back_freed_memory() -> None:
    """Return the heap that building or loading an index freed to the system. glibc keeps freed memory of large
    temporary objects (the decompressed model, the fit's matrices) in the process, about 60 MB here after a load;
    malloc_trim is its own call for giving it back (no library wraps it). Nothing happens on other C libraries."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def serve(index: SearchIndex, number: int, digest: str) -> None:
    """Serve a version this process has just published and built (the others find it by polling)."""
    with _lock:
        if _version is None or number > _version:
            swap(index, number, digest)


def refresh(database: Database, search_key: str = "") -> int | None:
    """Serve the newest published version if this process does not yet; returns the version now served. The version's
    stored search model is used when it verifies with `search_key` (knowledge/fitted.py), else the model is fitted here.
    Blocking (builds the index): call it off the event loop."""
    from knowledge import fitted, versions

    global _version
    with database.session() as session:
        newest = versions.latest(db_session=session)
        if newest is None or newest == (_version, _digest):
            return _version
        if newest[1] == _digest:  # the same knowledge republished (a rollback to what is served): nothing to build
            _version = newest[0]
            return _version
        content = versions.content_of(db_session=session, number=newest[0])
        model = versions.search_model_of(db_session=session, number=newest[0])
    with _lock:
        if newest[0] != _version:
            index = fitted.load(content, model, search_key)
            if index is None:  # no usable stored model: fit here, and keep it for the other processes
                index, model = fitted.fit_apart(content, search_key)
                if search_key:
                    with database.session() as session:
                        versions.store_search_model(db_session=session, number=newest[0], search_model=model)
            swap(index, newest[0], newest[1])
            log.info("知识库第 %s 版已生效（%s 个事项）", newest[0], len(content.items))
    return _version


def load_published(database: Database, search_key: str = "") -> int | None:
    """At start: publish the repo's seed if the database needs it (knowledge/versions.py), then serve the newest."""
    from knowledge import versions

    with database.session() as session:
        versions.ensure_seed(db_session=session)
    return refresh(database, search_key)


async def watch(database: Database, every: float, stop: asyncio.Event, search_key: str = "") -> None:
    """Poll the newest version number every `every` seconds and serve a new version (built in a worker thread)."""
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        if stop.is_set():
            return
        try:
            await asyncio.to_thread(refresh, database, search_key)
        except Exception:  # noqa: BLE001  (the database may be briefly unavailable: keep serving, try again)
            log.exception("读取知识库版本失败，继续使用第 %s 版", _version)


def reset() -> None:
    """Forget the loaded index (tests): the next get_index() reads the repo's YAML again."""
    global _index, _version, _digest
    with _lock:
        _index, _version, _digest = None, None, None
        _retired.clear()
