"""A version's fitted search model, made once by the process that publishes the version and stored with it, so that
every app process swaps in a new version within seconds instead of fitting the model again (fitting is most of an
index build: ten seconds and more on two busy cores, where two processes fitting at once take twice as long).

The blob is tied to the search code (a fingerprint of the files that shape the fit) and signed with the app's secret
key (HMAC-SHA256): a blob fitted by other code, or that does not verify, is never unpickled, and the process fits its
own model as before. The search itself is unchanged: the same SearchIndex, with its fitted parts handed over.

A fit is also kept in var/cache/ per search code, scikit-learn version and what the fit reads of the knowledge
(`SearchIndex.fit_digest`: names, aliases, keywords, questions, situations; `fitted_parts`): the repo's own YAML (tests,
`kb search`, an action server without a database) and a new database's seed are fitted once per machine, not once per
process (50 s on two cores, against 2 s for an index with its model loaded), and a version that changes only a fee, a
place or a material is published with the fit of the version before.
"""
from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import multiprocessing
import os
import pickle
import secrets
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import sklearn

from knowledge.content import Content
from knowledge.events import events
from knowledge.loader import load as load_repo
from knowledge.search import ASKED_FILE, NEGATIVES_FILE, SearchIndex

log = logging.getLogger(__name__)

KNOWLEDGE_DIR = Path(__file__).resolve().parent
FIT_FILES = (KNOWLEDGE_DIR / "search.py", KNOWLEDGE_DIR / "normalize.py", NEGATIVES_FILE, ASKED_FILE,
             KNOWLEDGE_DIR / "events.py")  # (events.CUE leaves questions out of the fit)
CACHE_DIR = KNOWLEDGE_DIR.parent / "var" / "cache"
CACHE_KEEP = 6  # fits kept (22 MB each for the county): the newest, as knowledge is edited or tests publish versions


@lru_cache(maxsize=1)
def fingerprint() -> bytes:
    """32 bytes naming the search code and data the model was fitted with."""
    digest = hashlib.sha256()
    for path in FIT_FILES:
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.digest()


def _mac(key: str, payload: bytes) -> bytes:
    return hmac.new(key.encode("utf-8"), fingerprint() + payload, hashlib.sha256).digest()


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """Everything besides the content that shapes a fit: the knowledge package's code and the data it reads
    (FIT_FILES, and loader and schema, which make the entries), and the scikit-learn that pickles the model."""
    digest = hashlib.sha256(sklearn.__version__.encode())
    for path in sorted({*KNOWLEDGE_DIR.glob("*.py"), *FIT_FILES}):
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()


def fitted_parts(fit_digest: str, build: Callable[[bool], SearchIndex], cache_dir: Path | None = CACHE_DIR
                 ) -> tuple[SearchIndex, bytes]:
    """An index (`build(True)` fits its model, `build(False)` does not) and its model's compressed pickle, the pickle
    kept in cache_dir (None: no cache) under fit_digest and the code it was fitted with. The cache holds pickles
    this app wrote itself (whoever can write var/ can change the app anyway; bot/appeals/classifier.py does the same);
    a file that does not load is fitted again and replaced."""
    path = cache_dir / f"search-model-{hashlib.sha256((_code_digest() + fit_digest).encode()).hexdigest()[:24]}.bin" \
        if cache_dir is not None else None
    if path is not None and path.exists():
        try:
            payload = path.read_bytes()
            index = build(False)
            index.model, index.combiner = pickle.loads(zlib.decompress(payload))  # noqa: S301  (written by this app)
            os.utime(path)  # the newest used stays when the cache is pruned
            return index, payload
        except Exception as exc:  # noqa: BLE001  (a broken or foreign cache file: fit again)
            log.warning("检索模型缓存 %s 无法使用（%r），重新生成", path, exc)
    index = build(True)
    payload = zlib.compress(pickle.dumps((index.model, index.combiner), protocol=pickle.HIGHEST_PROTOCOL), 6)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_bytes(payload)
            partial.replace(path)  # whole or not at all, also with processes fitting the same content at once
        except OSError as exc:
            log.warning("检索模型未能缓存：%r", exc)
        else:
            _prune(path.parent)
    return index, payload


def _prune(cache_dir: Path) -> None:
    """Keep the newest CACHE_KEEP fits; a file another process pruned or is pruning is skipped."""
    def age(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0
    for old in sorted(cache_dir.glob("search-model-*.bin"), key=age)[:-CACHE_KEEP]:
        with contextlib.suppress(OSError):
            old.unlink(missing_ok=True)


def fit(content: Content, key: str, reuse: bool = True) -> tuple[SearchIndex, bytes]:
    """Build the index of content and its signed model blob (fingerprint, MAC, compressed pickle); with reuse, the
    fit kept in var/cache/ for the same content and code is used (the benchmark times a fit: reuse=False)."""
    kb = content.to_kb()
    index, payload = fitted_parts(SearchIndex.fit_digest(kb.entries), lambda fit_model: SearchIndex(kb, fit_model=fit_model),
                                  CACHE_DIR if reuse else None)
    return index, fingerprint() + _mac(key, payload) + payload


def repo_index() -> SearchIndex:
    """The index of the repo's own YAML (knowledge/guides, catalogue, events), its fit kept in var/cache/."""
    kb = replace(load_repo(), events=events())
    return fitted_parts(SearchIndex.fit_digest(kb.entries), lambda fit_model: SearchIndex(kb, fit_model=fit_model))[0]


def _blob(content: Content, key: str) -> bytes:
    return fit(content, key)[1]


def fit_apart(content: Content, key: str) -> tuple[SearchIndex, bytes]:
    """fit(), done in a child process, for a process that serves: the fit's peak (about 100 MB above the model's
    resting size) and the heap it leaves behind stay out of the server, which loads the signed blob as every other
    process does, and the fit's minute of CPU holds no lock the server's threads wait for. Without a key the blob is
    signed with a one-time key (it can serve here but is not worth storing). Fits here when no child can be started."""
    signing = key or secrets.token_hex(16)
    try:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            blob = pool.submit(_blob, content, signing).result()
    except (OSError, BrokenProcessPool):
        log.warning("无法在子进程中生成检索模型，改在本进程中生成", exc_info=True)
        return fit(content, key)
    index = load(content, blob, signing)
    if index is None:  # the child ran other search code (an upgrade in between): fit with this process's code
        return fit(content, key)
    return index, blob


def load(content: Content, blob: bytes | None, key: str) -> SearchIndex | None:
    """The index of content with the stored model, or None when the blob is missing, not this code's, or does not
    verify (then the caller fits its own)."""
    if blob and key and blob[:32] == fingerprint():
        mac, payload = blob[32:64], blob[64:]
        if hmac.compare_digest(mac, _mac(key, payload)):
            index = SearchIndex(content.to_kb(), fit_model=False)
            index.model, index.combiner = pickle.loads(zlib.decompress(payload))  # noqa: S301  (signed by this app)
            return index
    return None
