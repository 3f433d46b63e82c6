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
import pickle
import zlib
from functools import lru_cache
from pathlib import Path

from knowledge.content import Content
from knowledge.search import ASKED_FILE, NEGATIVES_FILE, SearchIndex

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
