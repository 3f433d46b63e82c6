"""A version's fitted search model, made once by the process that publishes the version and stored with it, so that
every app process swaps in a new version within seconds instead of fitting the model again (fitting is most of an
index build: ten seconds and more on two busy cores, where two processes fitting at once take twice as long).

The blob is tied to the search code (a fingerprint of the files that shape the fit) and signed with the app's secret
key (HMAC-SHA256): a blob fitted by other code, or that does not verify, is never unpickled, and the process fits its
own model as before. The search itself is unchanged: the same SearchIndex, with its fitted parts handed over.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import multiprocessing
import pickle
import secrets
import zlib
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import lru_cache
from pathlib import Path

from knowledge.content import Content
from knowledge.search import ASKED_FILE, NEGATIVES_FILE, SearchIndex

log = logging.getLogger(__name__)

FIT_FILES = (Path(__file__).resolve().parent / "search.py", Path(__file__).resolve().parent / "normalize.py", NEGATIVES_FILE,
             ASKED_FILE, Path(__file__).resolve().parent / "events.py")  # (events.CUE leaves questions out of the fit)


@lru_cache(maxsize=1)
def fingerprint() -> bytes:
    """32 bytes naming the search code and data the model was fitted with."""
    digest = hashlib.sha256()
    for path in FIT_FILES:
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.digest()


def _mac(key: str, payload: bytes) -> bytes:
    return hmac.new(key.encode("utf-8"), fingerprint() + payload, hashlib.sha256).digest()


def fit(content: Content, key: str) -> tuple[SearchIndex, bytes]:
    """Build the index of content and its signed model blob (fingerprint, MAC, compressed pickle)."""
    index = SearchIndex(content.to_kb())
    payload = zlib.compress(pickle.dumps((index.model, index.combiner), protocol=pickle.HIGHEST_PROTOCOL), 6)
    return index, fingerprint() + _mac(key, payload) + payload


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
