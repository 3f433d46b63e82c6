"""Server push: send a reply into a citizen's conversation at any time, and never lose it.

Code in the app process sends through `services.deliveries.to_conversation(conversation_id, reply)`
(bot/delivery.py), which calls `PushHub.push` and then the conversation's own channel.

`PushHub.push` stores the reply in the conversation log first (so the transcript shows it and nothing is lost),
records it in the outbox as undelivered, then wakes every live connection listening on that
conversation (the web chat's WebSockets). A connection that sends it to the browser marks it
delivered. A citizen who is offline gets it from the log when the page reconnects or polls, because
clients always ask for "everything after the last message id I have". `pushed.delivered` says whether
a live connection took it, so the caller can use another way (SMS, a phone call) when nobody was there.

Channels register listeners with `hub.listen(conversation_id, callback)`; the callback is awaited
with no arguments whenever the conversation has new messages (pushed ones, or replies to a message
sent from another tab), and reads them with `messages_after`.

Listeners live in the process that holds the connection. With several app processes, `notify` also publishes
the conversation id on the shared bus (bot/shared.py: Redis pub/sub), and every other process wakes its own
listeners of that conversation: a push or an operator message sent by one process reaches the citizen's
WebSocket in another at once. If the notice is lost (Redis restarting), the message still reaches the citizen
at their next reconnect or poll, from the log.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, ForeignKey, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from starlette.concurrency import run_in_threadpool

from bot.clock import utcnow
from bot.conversations.models import Conversation, Message
from bot.db import Base
from bot.messages import Reply
from bot.shared import SharedState

if TYPE_CHECKING:
    from bot.db import Database

logger = logging.getLogger(__name__)

Listener = Callable[[], Awaitable[None]]


class PushError(Exception):
    """Base of push errors."""


class UnknownConversation(PushError, LookupError):
    """No conversation has this id."""


class OutboxEntry(Base):
    """A pushed message (operator reply, reminder) and whether a live connection has delivered it."""

    __tablename__ = "push_outbox"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    sender: Mapped[str] = mapped_column(String(16), default="system")  # "operator" | "system" | "bot"
    action: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


@dataclass
class LoggedMessage:
    """One message of the conversation log as a client sees it."""

    id: int
    direction: str  # "in" | "out"
    sender: str  # "citizen" | "bot" | "operator" | "system"
    text: str
    buttons: list[dict[str, Any]] = field(default_factory=list)
    client_id: str | None = None
    action: str | None = None
    at: str = ""


@dataclass(frozen=True)
class Pushed:
    message_id: int
    delivered: bool


# --- plain functions over a db_session -------------------------------------------------------------

def store_push(*, db_session: Session, conversation_id: str, reply: Reply) -> int:
    """Log the reply as an outgoing message plus an undelivered outbox entry; returns the message id."""
    if db_session.get(Conversation, conversation_id) is None:
        raise UnknownConversation(f"没有编号为 {conversation_id} 的会话")
    message = Message(
        conversation_id=conversation_id,
        direction="out",
        text=reply.text,
        buttons=[b.model_dump() for b in reply.buttons] or None,
        status="pushed",
    )
    db_session.add(message)
    db_session.flush()
    db_session.add(OutboxEntry(message_id=message.id, conversation_id=conversation_id, sender=reply.sender, action=reply.action))
    return message.id


def messages_after(*, db_session: Session, conversation_id: str, after: int = 0, limit: int = 200) -> list[LoggedMessage]:
    """The conversation's messages with id > after, oldest first (at most `limit`)."""
    rows = db_session.execute(
        select(Message, OutboxEntry.sender, OutboxEntry.action)
        .outerjoin(OutboxEntry, OutboxEntry.message_id == Message.id)
        .where(Message.conversation_id == conversation_id, Message.id > after)
        .order_by(Message.id)
        .limit(limit)
    ).all()
    return [
        LoggedMessage(
            id=m.id,
            direction=m.direction,
            sender="citizen" if m.direction == "in" else (sender or "bot"),
            text=m.text,
            buttons=list(m.buttons or []),
            client_id=m.client_id,
            action=action,
            at=m.created_at.isoformat() if m.created_at else "",
        )
        for m, sender, action in rows
    ]


def mark_delivered(*, db_session: Session, message_ids: list[int]) -> None:
    """Mark pushed messages as delivered (ids that are not pushed messages are ignored)."""
    if message_ids:
        db_session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.message_id.in_(message_ids), OutboxEntry.delivered_at.is_(None))
            .values(delivered_at=utcnow())
        )


def undelivered(*, db_session: Session, conversation_id: str) -> list[int]:
    """Ids of pushed messages no live connection has delivered yet, oldest first."""
    return list(
        db_session.scalars(
            select(OutboxEntry.message_id)
            .where(OutboxEntry.conversation_id == conversation_id, OutboxEntry.delivered_at.is_(None))
            .order_by(OutboxEntry.message_id)
        )
    )


def is_delivered(*, db_session: Session, message_id: int) -> bool:
    return db_session.scalar(select(OutboxEntry.delivered_at).where(OutboxEntry.message_id == message_id)) is not None


# --- the hub ---------------------------------------------------------------------------------------

BUS_CHANNEL = "push"
CROSS_PROCESS_WAIT = 1.0  # seconds `push` waits for another process's connection to mark a message delivered


class PushHub:
    """Conversation id -> live listeners, in this process; messages themselves are in the database."""

    def __init__(self, database: Database, shared: SharedState | None = None):
        self.database = database
        self.shared = shared or SharedState()
        self._listeners: dict[str, set[Listener]] = {}

    async def start(self) -> None:
        """Listen to the other processes' notices (a no-op pair in one process)."""
        await self.shared.bus.subscribe(BUS_CHANNEL, self._on_notice)

    async def _on_notice(self, notice: str) -> None:
        origin, _, conversation_id = notice.partition("|")
        if origin != self.shared.process_id and conversation_id in self._listeners:
            await self._wake(conversation_id)

    def listen(self, conversation_id: str, listener: Listener) -> Callable[[], None]:
        """Register a listener; returns the function that removes it."""
        self._listeners.setdefault(conversation_id, set()).add(listener)

        def remove() -> None:
            listeners = self._listeners.get(conversation_id)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._listeners[conversation_id]

        return remove

    def listening(self, conversation_id: str) -> int:
        """How many live listeners the conversation has."""
        return len(self._listeners.get(conversation_id, ()))

    async def notify(self, conversation_id: str) -> None:
        """Wake every listener of the conversation, in this process and (through the bus) in the others."""
        await self._wake(conversation_id)
        if self.shared.shared_between_processes:
            await self.shared.bus.publish(BUS_CHANNEL, f"{self.shared.process_id}|{conversation_id}")

    async def _wake(self, conversation_id: str) -> None:
        """Wake this process's listeners of the conversation; one failing listener does not stop the others."""
        listeners = list(self._listeners.get(conversation_id, ()))
        results = await asyncio.gather(*(listener() for listener in listeners), return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                logger.warning("push listener for %s failed: %r", conversation_id, result)

    def _store(self, conversation_id: str, reply: Reply) -> int:
        with self.database.session() as session:
            return store_push(db_session=session, conversation_id=conversation_id, reply=reply)

    def _delivered(self, message_id: int) -> bool:
        with self.database.session() as session:
            return is_delivered(db_session=session, message_id=message_id)

    async def push(self, conversation_id: str, reply: Reply) -> Pushed:
        """Store the reply, deliver it to live listeners, and say whether one took it."""
        message_id = await run_in_threadpool(self._store, conversation_id, reply)
        await self.notify(conversation_id)
        if self.listening(conversation_id):
            delivered = await run_in_threadpool(self._delivered, message_id)
        elif self.shared.shared_between_processes:  # a connection in another process may take it: wait briefly
            delivered = await self._delivered_elsewhere(message_id)
        else:
            delivered = False
        return Pushed(message_id=message_id, delivered=delivered)

    async def _delivered_elsewhere(self, message_id: int) -> bool:
        deadline = asyncio.get_running_loop().time() + CROSS_PROCESS_WAIT
        while True:
            if await run_in_threadpool(self._delivered, message_id):
                return True
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(0.1)
