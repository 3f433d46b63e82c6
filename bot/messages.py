"""The one inbound message type and the channel-neutral reply type (the core's, used by every channel); channels
render replies at the edge (HTML, WeChat text, TwiML)."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Button(BaseModel):
    title: str
    payload: str


class Reply(BaseModel):
    """One bot or operator reply: text, optional quick-reply buttons, and an optional signal for the
    channel (`action="handoff"`: the citizen should reach a person; voice transfers the call)."""

    text: str = ""
    buttons: list[Button] = Field(default_factory=list)
    action: str | None = None
    sender: str = "bot"  # "bot" | "operator" | "system"

    @classmethod
    def from_rasa(cls, message: dict[str, Any]) -> Reply:
        buttons = [Button(title=b.get("title", ""), payload=b.get("payload", "")) for b in message.get("buttons") or []]
        return cls(text=message.get("text") or "", buttons=buttons)


def replies_from_rasa(messages: list[dict[str, Any]]) -> list[Reply]:
    """Rasa's REST output to replies: a custom message {"action": ...} marks the reply before it."""
    replies: list[Reply] = []
    for message in messages:
        custom = message.get("custom")
        if isinstance(custom, dict) and custom.get("action"):
            if replies:
                replies[-1].action = custom["action"]
            else:
                replies.append(Reply(action=custom["action"]))
        elif message.get("text") or message.get("buttons"):
            replies.append(Reply.from_rasa(message))
    return replies


class InboundMessage(BaseModel):
    """A citizen's message from any channel."""

    channel: str
    sender: str
    text: str
    client_id: str | None = None
