"""Conversation service: log every message, route it to Rasa, log the replies."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bot.clock import utcnow
from bot.conversations import compaction
from bot.conversations.admission import Busy, TurnGate
from bot.conversations.models import Conversation, Message
from bot.db import rowcount
from bot.insight import metrics, outcomes
from bot.messages import Button, InboundMessage, Reply, replies_from_rasa
from bot.privacy import mask
from bot.rasa_client import RasaClient, RasaError
from bot.security import printable
from bot.texts import BUSY, EMPTY_REPLY, STILL_WORKING
from knowledge.county import county
from knowledge.service import get_index

if TYPE_CHECKING:
    from bot.db import Database
    from bot.handoff.desk import Desk, Routed

logger = logging.getLogger(__name__)


class InvalidMessage(ValueError):
    """The message cannot be processed; `reply` tells the citizen why, in Chinese."""

    def __init__(self, reply: str):
        super().__init__(reply)
        self.reply = reply


def check_text(text: str, max_chars: int) -> str:
    """The stripped text, or InvalidMessage with a Chinese reason."""
    text = printable(text or "").strip()
    if not text:
        raise InvalidMessage("您发送的消息是空的，请输入您想咨询的问题，例如“身份证丢了怎么补办”。")
    if len(text) > max_chars:
        raise InvalidMessage(f"您的消息有{len(text)}个字，超过了{max_chars}字的上限，请精简后分几次发送。")
    return text


def get_or_create_conversation(*, db_session: Session, channel: str, sender: str) -> Conversation:
    conversation = db_session.scalar(select(Conversation).where(Conversation.channel == channel, Conversation.sender == sender))
    if conversation is None:
        conversation = Conversation(id=f"{channel}-{uuid.uuid4().hex[:20]}", channel=channel, sender=sender)
        db_session.add(conversation)
        db_session.flush()
    return conversation


# Statements run for every message, built once: SQLAlchemy then reuses their compiled form instead of building and
# keying a new statement each time (with the plain INSERT/UPDATE instead of ORM objects, measured in README
# "Performance").
_conversations, _messages = cast(Table, Conversation.__table__), cast(Table, Message.__table__)  # tables, not the ORM classes: plain SQL, less work
_CONVERSATION_ID = select(_conversations.c.id).where(_conversations.c.channel == bindparam("channel"),
                                                     _conversations.c.sender == bindparam("sender"))
_INSERT_MESSAGE = insert(_messages).returning(_messages.c.id)
_INSERT_REPLIES = insert(_messages)
_MARK_HANDLED = update(_messages).where(_messages.c.id == bindparam("inbound_id")).values(status=bindparam("handled"))


def log_inbound(*, db_session: Session, message: InboundMessage, status: str = "received") -> tuple[int, str, bool, list[Message] | None]:
    """Store an inbound message: (its id, the conversation id, False, None). A retry (its client id was seen) stores
    nothing: (the first message's id, the conversation id, True, its replies, or None while it is being answered)."""
    conversation_id = db_session.execute(_CONVERSATION_ID, {"channel": message.channel, "sender": message.sender}).scalar()
    if conversation_id is None:
        conversation_id = get_or_create_conversation(db_session=db_session, channel=message.channel, sender=message.sender).id
    if message.client_id:
        seen = db_session.scalar(
            select(Message.id).where(Message.conversation_id == conversation_id, Message.client_id == message.client_id)
        )
        if seen is not None:
            return seen, conversation_id, True, answered_replies(db_session=db_session, conversation_id=conversation_id, inbound_id=seen)
    row = {"conversation_id": conversation_id, "direction": "in", "text": message.text, "client_id": message.client_id or None,
           "status": status, "created_at": utcnow()}
    if not message.client_id:
        return db_session.execute(_INSERT_MESSAGE, row).scalar_one(), conversation_id, False, None
    try:  # two copies of one message at the same moment: the unique client id lets exactly one in
        with db_session.begin_nested():
            return db_session.execute(_INSERT_MESSAGE, row).scalar_one(), conversation_id, False, None
    except IntegrityError:
        seen = db_session.scalar(
            select(Message.id).where(Message.conversation_id == conversation_id, Message.client_id == message.client_id))
        assert seen is not None  # the other copy's
        return seen, conversation_id, True, answered_replies(db_session=db_session, conversation_id=conversation_id, inbound_id=seen)


def log_replies(*, db_session: Session | Connection, conversation_id: str, inbound_id: int, replies: list[Reply], status: str) -> None:
    """Mark the inbound message handled and store the replies (plain UPDATE and INSERT, as in log_inbound)."""
    db_session.execute(_MARK_HANDLED, {"inbound_id": inbound_id, "handled": status})
    if replies:
        now = utcnow()
        db_session.execute(_INSERT_REPLIES, [
            {"conversation_id": conversation_id, "direction": "out", "text": reply.text, "status": "sent", "created_at": now,
             "buttons": [b.model_dump() for b in reply.buttons] or None}
            for reply in replies
        ])


ORPHAN_SECONDS = 45.0  # a message still unanswered this long after it was stored has lost the process answering it


def take_over(*, db_session: Session, inbound_id: int, now: dt.datetime | None = None) -> bool:
    """Claim a message whose answering process died (killed or crashed after storing it): still unanswered
    `ORPHAN_SECONDS` after it was stored. Its stored time moves to now, so exactly one claimant wins; the claimant
    answers it. Whether this caller won."""
    now = now or utcnow()
    claimed = rowcount(db_session.execute(
        update(_messages).where(_messages.c.id == inbound_id, _messages.c.status == "received",
                                _messages.c.created_at < now - dt.timedelta(seconds=ORPHAN_SECONDS)).values(created_at=now)))
    return claimed == 1


def answered_replies(*, db_session: Session, conversation_id: str, inbound_id: int) -> list[Message] | None:
    """The replies stored for an inbound message once it has been handled; None while it is still being answered."""
    status = db_session.scalar(select(Message.status).where(Message.id == inbound_id))
    if status == "received":
        return None
    following = db_session.scalar(select(Message.id).where(Message.conversation_id == conversation_id, Message.id > inbound_id,
                                                           Message.direction == "in").order_by(Message.id).limit(1))
    query = select(Message).where(Message.conversation_id == conversation_id, Message.id > inbound_id, Message.direction == "out")
    if following is not None:
        query = query.where(Message.id < following)
    return list(db_session.scalars(query.order_by(Message.id)))


def transcript(*, db_session: Session, conversation_id: str, reveal: bool = False) -> list[dict[str, Any]]:
    """The conversation's messages, personal data masked unless revealed."""
    rows = db_session.scalars(select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)).all()
    return [
        {"direction": m.direction, "text": m.text if reveal else mask(m.text), "status": m.status, "at": m.created_at.isoformat()}
        for m in rows
    ]


def offered_buttons(*, db_session: Session, channel: str, sender: str) -> list[dict[str, Any]]:
    """The options of the latest turn (its last reply with buttons): what "1", "2" select on text and phone."""
    conversation = db_session.scalar(select(Conversation).where(Conversation.channel == channel, Conversation.sender == sender))
    if conversation is None:
        return []
    rows = db_session.scalars(
        select(Message).where(Message.conversation_id == conversation.id).order_by(Message.id.desc()).limit(20)
    ).all()
    for row in rows:
        if row.direction == "in":
            break
        if row.buttons:
            return list(row.buttons)
    return []


def rasa_down_reply() -> Reply:
    c = county()
    return Reply(text=f"抱歉，智能客服暂时出了点问题，您的留言已经记录。急事请拨打{c['热线']}热线，人工客服为您服务。", action="handoff")


_rasa_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def rasa_lock(conversation_id: str) -> asyncio.Lock:
    """Held around everything the app does to one conversation's Rasa tracker (a turn, a pause or resume,
    a compaction), so a compaction's read-and-replace never overlaps another change."""
    lock = _rasa_locks.get(conversation_id)
    if lock is None:
        lock = _rasa_locks[conversation_id] = asyncio.Lock()
    return lock


class _DeskFailed(Exception):
    """The handoff desk raised `error` while routing a message (see ConversationService._log_and_route)."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


class ConversationService:
    """Handle one inbound message end to end."""

    def __init__(self, database: Database, rasa: RasaClient, max_chars: int = 500):
        self.database = database
        self.rasa = rasa
        self.max_chars = max_chars
        self.handoff: Desk | None = None  # bot.handoff.desk.Desk: operator mode and the app's own questions, before Rasa
        self.compact_every = compaction.COMPACT_EVERY  # Settings.tracker_compact_every; 0 turns compaction off
        self._turns: OrderedDict[str, int] = OrderedDict()  # Rasa turns since the last compaction, recent ones
        self._background: set[asyncio.Task[None]] = set()
        self.gate = TurnGate(0, 0, 1.0)  # Services sets the overload limits (Settings.rasa_concurrency ...); 0: off
        self.retry_wait = 15.0  # seconds a retry waits for the first attempt's replies (longer than Rasa's timeout)

    async def _send_to_rasa(self, conversation_id: str, text: str) -> list[dict[str, Any]]:
        """One Rasa turn at a time per conversation; every `compact_every` turns, compact its tracker afterwards
        (in the background, under the same lock, so the citizen does not wait for it)."""
        lock = rasa_lock(conversation_id)
        async with lock, self.gate.turn():
            raw = await self.rasa.send(conversation_id, text)
        turns = self._turns.pop(conversation_id, 0) + 1
        self._turns[conversation_id] = turns
        if len(self._turns) > 100_000:  # forget the least recent conversations' counts (they start again at 0)
            self._turns.popitem(last=False)
        if self.compact_every and turns >= self.compact_every:
            self._turns[conversation_id] = 0
            task = asyncio.create_task(self._compact(conversation_id, lock))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return raw

    async def _compact(self, conversation_id: str, lock: asyncio.Lock) -> None:
        async with lock:
            try:
                await compaction.compact(self.rasa, conversation_id)
            except RasaError as exc:  # the tracker just stays long; nothing is lost
                logger.warning("could not compact the tracker of %s: %s", conversation_id, exc)

    def _log_and_route(self, message: InboundMessage, status: str) -> tuple[int, str, bool, list[Reply] | None, Routed | None]:
        """Store the inbound message and, unless it is rejected or a retry, ask the handoff desk (operator mode, the
        app's own questions) for its answer: one worker-thread hop and one transaction for both. If the desk fails,
        that transaction is undone, the message is stored alone, and the desk's error is raised after that commit
        (a retry of the whole rather than a savepoint: SAVEPOINT and RELEASE on every turn cost more than the rare
        second transaction, docs/performance.md)."""
        try:
            with self.database.session() as session:
                return self._store_and_route(session, message, status)
        except _DeskFailed as failed:
            with self.database.session() as session:
                log_inbound(db_session=session, message=message, status=status)
            raise failed.error from None

    def _store_and_route(self, session: Session, message: InboundMessage, status: str) -> tuple[int, str, bool, list[Reply] | None, Routed | None]:
        stored_id, conversation_id, retry, previous = log_inbound(db_session=session, message=message, status=status)
        replies = None if previous is None else [Reply(text=m.text, buttons=[Button(**b) for b in m.buttons or []]) for m in previous]
        routed = None
        if not retry and status == "received" and self.handoff is not None:
            try:
                routed = self.handoff.route_in(session, conversation_id, message.text)
            except Exception as exc:  # noqa: BLE001  (re-raised by _log_and_route once the message alone is committed)
                raise _DeskFailed(exc) from exc
        return stored_id, conversation_id, retry, replies, routed

    def _log_replies(self, conversation_id: str, inbound_id: int, replies: list[Reply], status: str,
                     turn: dict[str, Any] | None = None) -> None:
        """Store the replies and, in the same transaction, the turn's outcome (bot/insight/outcomes.py). If storing the
        outcome fails, the transaction is undone and the replies are stored alone: the citizen's answer matters more
        than the figure (no savepoint, as in _log_and_route)."""
        if turn is not None:
            turn = outcomes.counted(**turn)
            try:
                with self.database.transaction() as connection:
                    log_replies(db_session=connection, conversation_id=conversation_id, inbound_id=inbound_id, replies=replies,
                                status=status)
                    outcomes.record(db_session=connection, conversation_id=conversation_id, message_id=inbound_id, **turn)
                return
            except Exception:  # noqa: BLE001
                logger.exception("could not record the outcome of a turn in %s", conversation_id)
                metrics.count_error("record")
        with self.database.transaction() as connection:
            log_replies(db_session=connection, conversation_id=conversation_id, inbound_id=inbound_id, replies=replies, status=status)

    def _offered_buttons(self, channel: str, sender: str) -> list[dict[str, Any]]:
        with self.database.session() as session:
            return offered_buttons(db_session=session, channel=channel, sender=sender)

    async def offered_buttons(self, channel: str, sender: str) -> list[Button]:
        """The options the sender was last offered (channels without buttons number them)."""
        return [Button(**b) for b in await run_in_threadpool(self._offered_buttons, channel, sender)]

    def _answered(self, conversation_id: str, inbound_id: int) -> list[Reply] | None:
        with self.database.session() as session:
            found = answered_replies(db_session=session, conversation_id=conversation_id, inbound_id=inbound_id)
            return None if found is None else [Reply(text=m.text, buttons=[Button(**b) for b in m.buttons or []]) for m in found]

    def _take_over(self, inbound_id: int) -> str | None:
        """The text of the message if this request now answers it in place of a process that died, else None."""
        with self.database.session() as session:
            if not take_over(db_session=session, inbound_id=inbound_id):
                return None
            text: str | None = session.scalar(select(Message.text).where(Message.id == inbound_id))
            return text

    async def _replies_when_answered(self, message: InboundMessage, conversation_id: str, inbound_id: int) -> list[Reply]:
        """The replies of a message another request (here or in another process) is still answering, once stored;
        if the process answering it died (bot/conversations/service.py take_over), this request answers it."""
        deadline = asyncio.get_running_loop().time() + self.retry_wait
        polls = 0
        while True:
            replies = await run_in_threadpool(self._answered, conversation_id, inbound_id)
            if replies is not None:
                return replies
            polls += 1
            if polls % 20 == 1:  # about once a second
                text = await run_in_threadpool(self._take_over, inbound_id)
                if text is not None:
                    logger.warning("answering %s's message %s, whose process did not answer it", conversation_id, inbound_id)
                    return await self._answer(message.model_copy(update={"text": text}), conversation_id, inbound_id, None,
                                              time.monotonic())
            if asyncio.get_running_loop().time() >= deadline:
                return [Reply(text=STILL_WORKING, sender="system")]
            await asyncio.sleep(0.05)

    async def handle(self, message: InboundMessage) -> tuple[str, list[Reply]]:
        """Returns (conversation id, replies). The message is stored before anything else happens."""
        started = time.monotonic()
        try:
            text = check_text(message.text, self.max_chars)
        except InvalidMessage as exc:
            inbound_id, conversation_id, _, _, _ = await self.database.call(self._log_and_route, message, "rejected")
            replies = [Reply(text=exc.reply)]
            await self.database.call(self._log_replies, conversation_id, inbound_id, replies, "rejected",
                                     {"channel": message.channel, "text": message.text, "outcome": outcomes.Outcome("rejected"),
                                      "started": started})
            return conversation_id, replies
        message = message.model_copy(update={"text": text})
        inbound_id, conversation_id, retry, previous, routed = await self.database.call(self._log_and_route, message, "received")
        if retry:  # a retry: the first attempt's replies, processed once (waiting for them while it is still running)
            if previous is not None:
                return conversation_id, previous
            return conversation_id, await self._replies_when_answered(message, conversation_id, inbound_id)
        return conversation_id, await self._answer(message, conversation_id, inbound_id, routed, started)

    async def _answer(self, message: InboundMessage, conversation_id: str, inbound_id: int, routed: Routed | None, started: float) -> list[Reply]:
        """Answer a stored message (the desk's answer if it routed it, else Rasa's) and store the replies."""
        text = message.text
        logger.info("in %s: %s", conversation_id, mask(text))
        if routed is not None and routed.rasa_text is None:  # taken over by an operator, or answering the app's own question
            assert self.handoff is not None  # it routed the message
            await self.handoff.after_route(conversation_id, text, routed)
            await self.database.call(self._log_replies, conversation_id, inbound_id, routed.replies, routed.status,
                                     {"channel": message.channel, "text": text, "started": started,
                                      "outcome": outcomes.of_desk_turn(routed.status, routed.replies)})
            return routed.replies
        try:
            said = get_index().pinyin_reader.read(text)  # "yibao电子pingzheng" reaches Rasa as 医保电子凭证 (the transcript keeps it)
            raw = await self._send_to_rasa(conversation_id, said if routed is None or routed.rasa_text is None else routed.rasa_text)
            replies = replies_from_rasa(raw)
            if not any(r.text or r.buttons for r in replies):  # never leave the citizen without an answer
                replies = [Reply(text=EMPTY_REPLY, action=next((r.action for r in replies if r.action), None))]
            status = "answered"
        except Busy as exc:  # overload: answered at once rather than after the citizen has given up; the message is kept
            logger.warning("busy, not sent to Rasa for %s: %s", conversation_id, exc)
            replies, status = [Reply(text=BUSY, action="busy", sender="system")], "busy"
        except RasaError as exc:  # down, or refused the message: the citizen is told and the message is kept
            logger.error("Rasa failed for %s: %s", conversation_id, exc)
            replies, status = [rasa_down_reply()], "failed"
        outcome = outcomes.of_rasa_turn(raw, replies) if status == "answered" else outcomes.Outcome(
            status if status == "busy" else "error")
        await self.database.call(self._log_replies, conversation_id, inbound_id, replies, status,
                                 {"channel": message.channel, "text": text, "outcome": outcome, "started": started})
        return replies
