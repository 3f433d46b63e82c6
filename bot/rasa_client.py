"""Talk to the Rasa server(s) over their HTTP API (REST channel, tracker events); never import Rasa.

With several Rasa processes (Settings.rasa_bases), each conversation is pinned to one of them by rendezvous
hashing of its id: every turn, pause, resume and compaction of a conversation goes to the same process, so
each process's in-memory tracker and lock stores stay consistent, and adding a process moves only the
conversations that now hash to it (they start a fresh Rasa session there; the app keeps their transcript).

When the Rasa processes share their conversations (the production profile: SQL tracker store, Redis lock store,
deploy/rasa-endpoints.yml), `failover=True`: a conversation whose process cannot be reached goes to the next one in
its rendezvous order, which reads the same tracker; the pin stays the first choice, so each conversation's lock is
normally taken by one process.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import httpx

from bot.insight import metrics


class RasaError(Exception):
    """Base of Rasa client errors."""


class RasaUnavailable(RasaError):
    """Rasa did not answer (down, starting, timed out, or answered with a server error)."""


class RasaDown(RasaUnavailable):
    """The Rasa process cannot be reached (refused or dropped the connection) or is not ready (502/503)."""


def ranked(sender: str, base_urls: list[str]) -> list[str]:
    """The Rasa processes in a conversation's rendezvous order (highest hash first)."""
    return sorted(base_urls, key=lambda url: hashlib.blake2b(f"{url}|{sender}".encode(), digest_size=8).digest(), reverse=True)


def pick(sender: str, base_urls: list[str]) -> str:
    """The Rasa process a conversation is pinned to (highest rendezvous hash)."""
    return ranked(sender, base_urls)[0]


@dataclass
class Answer:
    """Rasa's HTTP answer, read in full."""

    status_code: int
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class RasaClient:
    """Rasa's HTTP API over one pooled aiohttp session (keep-alive connections shared by every conversation).

    aiohttp rather than httpx, which the rest of the app uses: this client runs on every turn, and under load
    httpx took about a quarter of the app's CPU here (py-spy, docs/performance.md). `transport` (an
    httpx transport, e.g. httpx.MockTransport) replaces the network in unit tests."""

    def __init__(self, base_url: str | list[str], timeout: float = 10.0, transport: httpx.AsyncBaseTransport | None = None,
                 failover: bool = False):
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self.base_urls = [u.rstrip("/") for u in urls if u.strip()]
        self.timeout, self.failover = timeout, failover
        self.fake = httpx.AsyncClient(timeout=timeout, transport=transport) if transport is not None else None
        self.session: aiohttp.ClientSession | None = None  # made on first use, inside the running event loop

    @property
    def base_url(self) -> str:
        return self.base_urls[0]

    async def _http(self, method: str, url: str, timeout: float | None = None, **kwargs: Any) -> Answer:
        if self.fake is not None:
            response = await self.fake.request(method, url, timeout=timeout or self.timeout, **kwargs)
            return Answer(response.status_code, response.content)
        if self.session is None or self.session.closed:
            # Idle connections are dropped after 3 s, before Rasa's server (Sanic, 5 s keep-alive) would close them.
            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=3))
        async with self.session.request(method, url, timeout=aiohttp.ClientTimeout(total=timeout or self.timeout), **kwargs) as received:
            return Answer(received.status, await received.read())

    async def _request(self, method: str, sender: str | None, path: str, what: str, **kwargs: Any) -> Answer:
        if sender is None:
            return await self._request_at(self.base_url, method, path, what, **kwargs)
        bases = ranked(sender, self.base_urls)
        if not self.failover:
            return await self._request_at(bases[0], method, path, what, **kwargs)
        for n, base in enumerate(bases):
            try:
                return await self._request_at(base, method, path, what, **kwargs)
            except RasaDown:
                if n == len(bases) - 1:
                    raise
                metrics.RASA_FAILOVERS.inc()
        raise AssertionError("unreachable")

    async def _request_at(self, base: str, method: str, path: str, what: str, **kwargs: Any) -> Answer:
        try:
            response = await self._http(method, base + path, **kwargs)
        except (httpx.ConnectError, aiohttp.ClientConnectionError) as exc:  # not a timeout: the process is gone
            raise RasaDown(f"Rasa at {base} cannot be reached ({what}): {exc!r}") from exc
        except (httpx.HTTPError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise RasaUnavailable(f"Rasa at {base} did not answer ({what}): {exc!r}") from exc
        if response.status_code in (502, 503):  # starting, or a proxy in front of a stopped process
            raise RasaDown(f"Rasa at {base} answered {response.status_code} ({what}): {response.text[:200]}")
        if response.status_code >= 500 or response.status_code == 404:
            raise RasaUnavailable(f"Rasa at {base} answered {response.status_code} ({what}): {response.text[:200]}")
        if response.status_code >= 400:
            raise RasaError(f"Rasa at {base} answered {response.status_code} ({what}): {response.text[:200]}")
        return response

    async def send(self, sender: str, text: str, metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Send one user message through the REST channel; returns Rasa's bot messages."""
        payload: dict[str, Any] = {"sender": sender, "message": text}
        if metadata:
            payload["metadata"] = metadata
        with metrics.RASA_SECONDS.time():
            messages: list[dict[str, Any]] = (await self._request("POST", sender, "/webhooks/rest/webhook", "message", json=payload)).json()
        if any(isinstance(m, dict) and isinstance(m.get("custom"), dict) and m["custom"].get("turn_failed") for m in messages):
            raise RasaUnavailable(f"Rasa could not handle the turn of {sender} (its log says why)")  # bot/rasa_server.py 11.
        return messages

    async def trigger_intent(self, sender: str, intent: str, entities: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The app speaks for the citizen (an operator closed the conversation): Rasa runs what follows `intent` in the
        conversation's tracker and returns its bot messages, like a message sent through the REST channel."""
        found = (await self._request("POST", sender, f"/conversations/{quote(sender, safe='')}/trigger_intent", "triggered intent",
                                     params={"include_events": "NONE"}, json={"name": intent, "entities": entities or {}})).json()
        messages: list[dict[str, Any]] = found.get("messages") or []
        return messages

    async def parse(self, text: str) -> dict[str, Any]:
        """NLU only: intent ranking for a text."""
        parsed: dict[str, Any] = (await self._request("POST", None, "/model/parse", "parse", json={"text": text})).json()
        return parsed

    async def pause(self, sender: str) -> None:
        """Pause the bot for this conversation (an operator took it): Rasa still logs messages, predicts nothing."""
        await self._event(sender, {"event": "pause"})

    async def resume(self, sender: str) -> None:
        """Resume the bot (an operator handed the conversation back); the tracker keeps the context."""
        await self._event(sender, {"event": "resume"})

    async def _event(self, sender: str, event: dict[str, Any]) -> None:
        await self._request("POST", sender, f"/conversations/{quote(sender, safe='')}/tracker/events", f"{event['event']} event",
                            params={"include_events": "NONE"}, json=event)

    async def tracker(self, sender: str, until: float | None = None) -> dict[str, Any]:
        """The conversation's tracker: events, slots, whether it is paused (as it was at `until`, if given)."""
        params = {} if until is None else {"until": repr(until)}
        found: dict[str, Any] = (await self._request("GET", sender, f"/conversations/{quote(sender, safe='')}/tracker", "tracker",
                                                     params=params)).json()
        return found

    async def replace_events(self, sender: str, events: list[dict[str, Any]]) -> None:
        """Replace the conversation's tracker with these events (Rasa takes its per-conversation lock)."""
        await self._request("PUT", sender, f"/conversations/{quote(sender, safe='')}/tracker/events", "replaced events",
                            params={"include_events": "NONE"}, json=events)

    async def ready(self) -> bool:
        """True when every Rasa process answers and has a model loaded."""
        for base in self.base_urls:
            try:
                response = await self._http("GET", base + "/status", timeout=2.0)
                if response.status_code != 200 or not response.json().get("model_file"):
                    return False
            except (httpx.HTTPError, aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                return False
        return True

    async def aclose(self) -> None:
        if self.fake is not None:
            await self.fake.aclose()
        if self.session is not None:
            await self.session.close()
