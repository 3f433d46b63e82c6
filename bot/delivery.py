"""One way out: how a reply reaches a citizen who did not just ask (operator messages, reminders, work-order
answers, the rating after an operator closes).

`Deliveries.to_conversation` stores the reply in the conversation log and wakes live web-chat connections
(bot/push.py), so nothing is lost and the transcript shows it; then, when the conversation's channel has an outlet
registered, the channel sends it through its own protocol (WeChat customer-service message). `Deliveries.send`
reaches an address of a channel directly (an SMS to a mobile number). Channels register their outlet by name when
the app starts (bot/app.py); adding a channel means one module with an outlet and its registration.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool

from bot.conversations.models import Conversation
from bot.messages import Reply
from bot.push import Pushed, PushHub

if TYPE_CHECKING:
    from bot.db import Database

logger = logging.getLogger(__name__)

# An outlet sends one reply to one address of its channel (a conversation id, or a mobile number for SMS). It raises
# ChannelUnavailable when the channel can never deliver to that address, anything else when a retry may work.
Outlet = Callable[[str, Reply], Awaitable[None]]
STORED_ONLY = ("web", "webchat")  # channels whose citizens read the log itself (page, open API): no outlet needed


class ChannelUnavailable(Exception):
    """The channel cannot reach this citizen (no outlet, WeChat's 48-hour window closed, unsubscribed): do not retry."""


class Deliveries:
    """The outlets of every channel, by name, and the log-first delivery into a conversation."""

    def __init__(self, database: Database, hub: PushHub):
        self.database, self.hub = database, hub
        self._outlets: dict[str, Outlet] = {}

    def register(self, channel: str, outlet: Outlet) -> None:
        self._outlets[channel] = outlet

    def channels(self) -> list[str]:
        return sorted(self._outlets)

    async def send(self, channel: str, target: str, reply: Reply) -> None:
        """Through one channel to one address; ChannelUnavailable when the channel has no outlet."""
        outlet = self._outlets.get(channel)
        if outlet is None:
            raise ChannelUnavailable(f"no outlet registered for channel {channel!r}")
        await outlet(target, reply)

    def _channel_of(self, conversation_id: str) -> str | None:
        with self.database.session() as session:
            conversation = session.get(Conversation, conversation_id)
            return conversation.channel if conversation is not None else None

    async def to_conversation(self, conversation_id: str, reply: Reply) -> Pushed:
        """Log the reply, wake live pages, then send it through the conversation's own channel when it has an outlet.
        `delivered` says whether the citizen got it now (a live page or the channel took it). UnknownConversation
        (bot.push) for an unknown id."""
        pushed = await self.hub.push(conversation_id, reply)
        channel = await run_in_threadpool(self._channel_of, conversation_id)
        if channel in STORED_ONLY or channel not in self._outlets:
            return pushed
        try:
            await self._outlets[channel](conversation_id, reply)
        except Exception as exc:  # noqa: BLE001 - the reply is in the log; the citizen sees it when they come back
            logger.warning("delivery to %s through %s failed: %r", conversation_id, channel, exc)
            return pushed
        return Pushed(pushed.message_id, True)
