"""The one inbound message type and the channel-neutral reply type; channels render replies at the edge."""
from __future__ import annotations

from pydantic import BaseModel, Field


class Button(BaseModel):
    title: str
    payload: str


class Reply(BaseModel):
    """One bot or operator reply: text, optional quick-reply buttons."""

    text: str = ""
    buttons: list[Button] = Field(default_factory=list)

    @classmethod
    def from_rasa(cls, message: dict) -> "Reply":
        buttons = [Button(title=b.get("title", ""), payload=b.get("payload", "")) for b in message.get("buttons") or []]
        return cls(text=message.get("text") or "", buttons=buttons)


class InboundMessage(BaseModel):
    """A citizen's message from any channel."""

    channel: str
    sender: str
    text: str
    client_id: str | None = None
