"""Talk to the Rasa server over its HTTP API (REST channel, tracker events); never import Rasa."""
from __future__ import annotations

from urllib.parse import quote

import httpx


class RasaError(Exception):
    """Base of Rasa client errors."""


class RasaUnavailable(RasaError):
    """Rasa did not answer (down, starting, timed out, or answered with a server error)."""


class RasaClient:
    def __init__(self, base_url: str, timeout: float = 10.0, transport: httpx.AsyncBaseTransport | None = None):
        self.base_url = base_url.rstrip("/")
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=50)
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, limits=limits, transport=transport)

    async def send(self, sender: str, text: str, metadata: dict | None = None) -> list[dict]:
        """Send one user message through the REST channel; returns Rasa's bot messages."""
        payload = {"sender": sender, "message": text}
        if metadata:
            payload["metadata"] = metadata
        try:
            response = await self.http.post("/webhooks/rest/webhook", json=payload)
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"Rasa at {self.base_url} did not answer: {exc!r}") from exc
        if response.status_code >= 500 or response.status_code == 404:
            raise RasaUnavailable(f"Rasa answered {response.status_code}: {response.text[:200]}")
        response.raise_for_status()
        return response.json()

    async def parse(self, text: str) -> dict:
        """NLU only: intent ranking for a text."""
        try:
            response = await self.http.post("/model/parse", json={"text": text})
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"Rasa parse failed: {exc!r}") from exc
        return response.json()

    async def pause(self, sender: str) -> None:
        """Pause the bot for this conversation (an operator took it): Rasa still logs messages, predicts nothing."""
        await self._event(sender, {"event": "pause"})

    async def resume(self, sender: str) -> None:
        """Resume the bot (an operator handed the conversation back); the tracker keeps the context."""
        await self._event(sender, {"event": "resume"})

    async def _event(self, sender: str, event: dict) -> None:
        try:
            response = await self.http.post(f"/conversations/{quote(sender, safe='')}/tracker/events",
                                            params={"include_events": "NONE"}, json=event)
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"Rasa at {self.base_url} did not take the {event['event']} event: {exc!r}") from exc
        if response.status_code >= 400:
            raise RasaUnavailable(f"Rasa answered {response.status_code} to the {event['event']} event: {response.text[:200]}")

    async def tracker(self, sender: str, until: float | None = None) -> dict:
        """The conversation's tracker: events, slots, whether it is paused (as it was at `until`, if given)."""
        try:
            response = await self.http.get(f"/conversations/{quote(sender, safe='')}/tracker",
                                           params={} if until is None else {"until": repr(until)})
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"Rasa at {self.base_url} did not answer: {exc!r}") from exc
        if response.status_code >= 400:
            raise RasaUnavailable(f"Rasa answered {response.status_code} for the tracker: {response.text[:200]}")
        return response.json()

    async def replace_events(self, sender: str, events: list[dict]) -> None:
        """Replace the conversation's tracker with these events (Rasa takes its per-conversation lock)."""
        try:
            response = await self.http.put(f"/conversations/{quote(sender, safe='')}/tracker/events",
                                           params={"include_events": "NONE"}, json=events)
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"Rasa at {self.base_url} did not take the replaced events: {exc!r}") from exc
        if response.status_code >= 400:
            raise RasaUnavailable(f"Rasa answered {response.status_code} to the replaced events: {response.text[:200]}")

    async def ready(self) -> bool:
        """True when Rasa answers and has a model loaded."""
        try:
            response = await self.http.get("/status", timeout=2.0)
            return response.status_code == 200 and bool(response.json().get("model_file"))
        except (httpx.HTTPError, ValueError):
            return False

    async def aclose(self) -> None:
        await self.http.aclose()
