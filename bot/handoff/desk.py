"""The handoff desk: routes a citizen's message before Rasa (operator mode, work order numbers, 代办 requests,
sensitive words), escalates, files the work orders and ratings Rasa's forms collect, and carries out the operators'
take-over, messages, hand-back and close: Rasa pause/resume events, pushes into the citizen's own channel.

One desk per app process, built with the app's services (bot/services.py); Rasa actions reach it through
`bot.services.current().desk`.
Database work runs in the thread pool; the services in `bot.handoff` (queue, duty, work_orders, ratings, audit) do the deciding.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bot import errors
from bot import push as push_hub
from bot.booking.calendar import WorkCalendar
from bot.clock import utcnow
from bot.conversations.models import Conversation, Message
from bot.conversations.service import get_or_create_conversation, rasa_lock
from bot.delivery import Deliveries
from bot.handoff import audit, duty, queue, ratings, texts, work_orders
from bot.handoff.invitations import RatingInvitations
from bot.handoff.models import Handoff, Operator, WorkOrder
from bot.messages import Reply
from bot.privacy import mask
from bot.rasa_client import RasaClient, RasaError
from knowledge.answers import aspects_in
from knowledge.service import get_index

if TYPE_CHECKING:
    from bot.appeals.office import AppealOffice
    from bot.db import Database
    from bot.settings import Settings
    from knowledge.schema import Entry

T = TypeVar("T")

logger = logging.getLogger(__name__)

CANCEL = re.compile(r"^(取消|算了|不用了?|不要了?|退出|不需要了?|不办了|不留了?)[。！!.，,\s]*$")
CANCEL_QUEUE = re.compile(r"^(取消排队|不排了|不排队了|不等了|不用人工了|取消转人工)[。！!.，,\s]*$")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3}-?\d{7,8})(?!\d)")
# What the desk sends Rasa for a message with a sensitive word off duty: the intent and the reason, not the words.
SENSITIVE_OFF_DUTY = '/request_human{"handoff_reason": "sensitive"}'
AGENCY_ASK = re.compile(r"申请代办|代办服务|帮办服务|帮办|代办员|代办点|帮我代办|找人代办|上门代办|代跑")
AGENCY_WORD = re.compile(r"代办")
# "我是黄土镇便民中心的代办员，村上有个小伙子…": who is asking, not a request for the service
AGENT_SAYS_WHO = re.compile(r"我(?:是|们是)[^，,。？?！!]{0,16}(?:代办员|帮办员|代办的|帮办的)")
# "屋头人能不能帮我代办", "我儿子去代办要得不": whether a relative may go instead (the guide's 到现场 answer), not the
# county's 代办 service
PROXY_ASK = re.compile(r"(屋头人|家里人|家人|家属|亲戚|朋友|别人|他人|儿子|女儿|老公|老婆|爱人|爸|妈|老汉|娃儿|子女|孙子|孙女)"
                       r"[^，,。？?]{0,6}(帮我|替我|代我|代办|代领|去办|去交|去领)")
ANSWER_ITEM = re.compile(r"^【([^】\n]{1,80})】")


def phone_in(text: str) -> str | None:
    compact = re.sub(r"[\s()（）]", "", text)
    match = _MOBILE.search(compact) or _LANDLINE.search(compact)
    return match.group(1) if match else None


@dataclass
class Routed:
    """A message the desk handled instead of Rasa."""

    replies: list[Reply] = field(default_factory=list)
    status: str = "answered"  # the inbound message's status in the log ("to_operator" in operator mode)
    forward_to_paused_rasa: bool = False  # log it in Rasa's paused tracker too (context for the hand-back)
    rasa_text: str | None = None  # send this to Rasa instead of the citizen's words (and answer with Rasa's replies)


@dataclass
class Escalation:
    """The desk's answer to a citizen who should reach a person; `offline`: nobody can take the conversation now, the
    replies offer a message or a callback instead (Rasa's ticket_form takes the choice, actions/tickets.py)."""

    replies: list[Reply]
    offline: bool = False


@dataclass
class Rated:
    """A rating stored: what to tell the citizen, and the rating a comment may be added to (None: nothing more asked)."""

    reply: Reply
    rating_id: int | None


@dataclass
class Joined:
    handoff_id: int
    bot_paused: bool
    delivered: bool


class Desk:
    def __init__(self, database: Database, rasa: RasaClient, settings: Settings, deliveries: Deliveries,
                 calendar: WorkCalendar | None = None, clock: Callable[[], dt.datetime] = utcnow,
                 appeals: AppealOffice | None = None, invitations: RatingInvitations | None = None):
        self.database, self.rasa, self.settings, self.deliveries = database, rasa, settings, deliveries
        self.invitations = invitations or RatingInvitations(rasa, deliveries)
        self.calendar = calendar or WorkCalendar.load()
        self.clock = clock
        self.appeals = appeals  # bot/appeals/office.py: status and rating of appeals

    # --- before Rasa ------------------------------------------------------------------------------

    def route_in(self, session: Session, conversation_id: str, text: str) -> Routed | None:
        """The desk's answer to a citizen's message, or None when Rasa should answer it. Runs in a worker thread,
        inside the transaction that stored the message (ConversationService.handle), so a turn costs one."""
        now = self.clock()
        handoff = queue.open_handoff_state(db_session=session, conversation_id=conversation_id)
        if handoff is not None and handoff.status == "active":
            return Routed(status="to_operator", forward_to_paused_rasa=handoff.bot_paused)
        number = work_orders.NUMBER.search(text)
        if number:
            order = work_orders.find_work_order(db_session=session, number=number.group(0))
            own = order is not None and order.conversation_id == conversation_id
            if order is not None and order.category == "appeal" and self.appeals is not None:
                return Routed([self.appeals.status_reply(session, order, own)])
            return Routed([texts.work_order_status(order, number.group(0), own)])
        if handoff is not None and CANCEL_QUEUE.match(text):
            queue.abandon(db_session=session, conversation_id=conversation_id, now=now)
            return Routed([texts.queue_cancelled()])
        asking = AGENT_SAYS_WHO.sub("", text)
        if (AGENCY_ASK.search(asking) or AGENCY_WORD.search(asking)) and not PROXY_ASK.search(asking):
            routed = self._agency(session, conversation_id, text, asked=bool(AGENCY_ASK.search(asking)))
            if routed is not None:
                return routed
        if any(word in text for word in duty.sensitive_words(db_session=session, settings=self.settings)):
            escalation = self._escalate(session, conversation_id, "sensitive", now)
            if escalation.offline:  # Rasa offers the work order; the words themselves never reach the bot
                return Routed(rasa_text=SENSITIVE_OFF_DUTY)
            return Routed(escalation.replies)
        return None

    async def after_route(self, conversation_id: str, text: str, routed: Routed) -> None:
        """What follows an answer from the desk outside the database: a message to an operator is still logged
        in the paused Rasa tracker."""
        if routed.forward_to_paused_rasa:
            try:
                await self.rasa.send(conversation_id, text)  # paused: Rasa logs it and answers nothing
            except RasaError as exc:
                logger.warning("could not log %s's message in the paused Rasa tracker: %s", conversation_id, exc)

    # --- escalation -------------------------------------------------------------------------------

    async def escalate(self, conversation_id: str, reason: str) -> Escalation:
        """A citizen should reach a person: queue (on duty) or offer a message or callback (off duty)."""
        def run() -> Escalation:
            with self.database.session() as session:
                return self._escalate(session, conversation_id, reason, self.clock())
        return await run_in_threadpool(run)

    def _escalate(self, session: Session, conversation_id: str, reason: str, now: dt.datetime) -> Escalation:
        channel = queue.conversation_channel(db_session=session, conversation_id=conversation_id)
        if channel == "voice":  # the call is transferred to the operator line instead of queueing here
            queue.record_transfer(db_session=session, conversation_id=conversation_id,
                                    reason="caller" if reason == "asked" else reason, now=now)
            return Escalation([texts.transferring()])
        existing = queue.open_handoff(db_session=session, conversation_id=conversation_id)
        if existing is not None and existing.status == "active":
            return Escalation([texts.being_served()])
        config = duty.duty_config(db_session=session, settings=self.settings)
        on_duty = duty.in_duty_hours(config, now, self.calendar)
        online = duty.operators_online(db_session=session, now=now, presence_seconds=self.settings.handoff_presence_seconds)
        if existing is None and not (on_duty and online):
            return Escalation([texts.offline(reason, off_hours=not on_duty, duty=duty.duty_description(config))], offline=True)
        handoff, created = queue.enqueue(db_session=session, conversation_id=conversation_id, reason=reason, now=now)
        position = queue.queue_position(db_session=session, handoff=handoff)
        wait = queue.wait_minutes(db_session=session, position=position, operators=online,
                                    default_minutes=self.settings.handoff_default_minutes)
        return Escalation([texts.queued(reason, position, wait, already=not created)])

    async def record_call(self, channel: str, sender: str) -> None:
        """A caller pressed 0: the call goes to the operator line; keep the record (reason "caller")."""
        def run() -> None:
            with self.database.session() as session:
                conversation = get_or_create_conversation(db_session=session, channel=channel, sender=sender)
                queue.record_transfer(db_session=session, conversation_id=conversation.id, reason="caller", now=self.clock())
        await run_in_threadpool(run)

    # --- flows in Rasa: the work orders its forms file -------------------------------------------------
    # (leaving a message or asking for a callback off duty is Rasa's ticket_form: actions/tickets.py; a 代办 request its
    # agency_form: actions/agency.py; a rating its rating_form: actions/ratings.py)

    async def file_ticket(self, conversation_id: str, category: str, description: str, phone: str) -> Reply:
        """A work order for a message, a complaint or a callback the citizen left with Rasa's ticket_form."""
        def run() -> Reply:
            with self.database.session() as session:
                channel = queue.conversation_channel(db_session=session, conversation_id=conversation_id)
                order = work_orders.create_work_order(db_session=session, category=category, description=description,
                                                      contact_phone=phone, channel=channel, conversation_id=conversation_id,
                                                      now=self.clock())
                return texts.ticket_created(order)
        return await run_in_threadpool(run)

    async def file_agency(self, conversation_id: str, item_id: str, village: str, phone: str, name: str) -> Reply:
        """A 代办 work order the citizen asked for with Rasa's agency_form."""
        entry = get_index().kb.by_id(item_id)
        item_name = entry.name if entry is not None else item_id

        def run() -> Reply:
            with self.database.session() as session:
                channel = queue.conversation_channel(db_session=session, conversation_id=conversation_id)
                order = work_orders.create_work_order(
                    db_session=session, category="agency", now=self.clock(), channel=channel, conversation_id=conversation_id,
                    description=f"申请代办“{item_name}”。", contact_phone=phone, contact_name=name, village=village,
                    item_id=item_id, item_name=item_name)
                return texts.agency_created(order)
        return await run_in_threadpool(run)

    def _agency(self, session: Session, conversation_id: str, text: str, asked: bool) -> Routed | None:
        """A request for 代办/帮办: for an item the knowledge base marks 代办, Rasa's agency_form asks the village and
        the contact (actions/agency.py); other requests are answered here, a question about proxies by Rasa."""
        if not asked and aspects_in(text):  # "他出门不方便，我去代办要带啥子": what to bring, answered by Rasa
            return None
        kb = get_index().kb
        agency = [entry for entry in kb.guides if entry.get("代办")]
        resolution = get_index().resolve(re.sub(r"申请代办|代办服务|帮办服务|申请|代办|帮办|可以|能不能|能否|吗|[？?]", "", text) or text)
        entry = resolution.entry if resolution.kind == "answer" else None
        if entry is None and asked:
            entry = self._item_in_context(session, conversation_id)
        if entry is not None and entry.get("代办"):
            return Routed(rasa_text="/request_agency" + json.dumps({"agency_item": entry.id}, ensure_ascii=False))
        if not asked:
            return None  # "身份证可以代办吗" (may someone else apply for me?) is a question about the guide: Rasa answers
        if entry is not None:
            return Routed([texts.not_agency(entry.name, [e.name for e in agency])])
        return Routed([texts.choose_agency_item([e.name for e in agency])])

    @staticmethod
    def _item_in_context(session: Session, conversation_id: str) -> Entry | None:
        """The item of the latest guide answer (answers start with 【事项名称】), for "申请代办" on its own."""
        rows = session.scalars(select(Message.text).where(Message.conversation_id == conversation_id, Message.direction == "out")
                               .order_by(Message.id.desc()).limit(10))
        for text in rows:
            match = ANSWER_ITEM.match(text or "")
            if match:
                return get_index().kb.by_name(match.group(1))
        return None

    # --- ratings (asked by Rasa's rating_form, actions/ratings.py) ---------------------------------------

    async def rate(self, conversation_id: str, level: str, subject: str | None) -> Rated:
        """Store a rating of `subject` ("handoff:<id>", "appeal:<number>", None: the service in general); 不满意 or worse
        opens a work order for review (an appeal goes back to the hotline)."""
        kind, _, key = (subject or "").partition(":")

        def run() -> Rated:
            now = self.clock()
            with self.database.session() as session:
                # only this conversation's own handoff or appeal (a citizen can type "/offer_rating{...}" too)
                order = work_orders.find_work_order(db_session=session, number=key) if kind == "appeal" else None
                if order is not None and order.conversation_id == conversation_id and self.appeals is not None:
                    reply, rating, reopened = self.appeals.rate(session, conversation_id, key, level, now)
                    return Rated(reply, rating.id if reopened else None)
                handoff = session.get(Handoff, int(key)) if kind == "handoff" and key.isdigit() else None
                handoff_id = handoff.id if handoff is not None and handoff.conversation_id == conversation_id else None
                rating = ratings.record_rating(db_session=session, conversation_id=conversation_id, level=level,
                                               handoff_id=handoff_id, now=now)
                review = session.get(WorkOrder, rating.work_order_id) if rating.work_order_id else None
                return Rated(texts.rating_thanks(level, review), rating.id)
        return await run_in_threadpool(run)

    async def comment(self, rating_id: int, text: str) -> Reply:
        """The citizen's comment on a rating (added to its review work order, if it opened one)."""
        def run() -> None:
            with self.database.session() as session:
                ratings.add_rating_comment(db_session=session, rating_id=rating_id, comment=text)
        await run_in_threadpool(run)
        return texts.comment_thanks()

    async def rated_recently(self, conversation_id: str) -> bool:
        def run() -> bool:
            with self.database.session() as session:
                return ratings.rated_recently(db_session=session, conversation_id=conversation_id, now=self.clock())
        return await run_in_threadpool(run)

    # --- operators --------------------------------------------------------------------------------

    def _in_session(self, work: Callable[[Session], T]) -> T:
        with self.database.session() as session:
            return work(session)

    async def take_over(self, operator: Operator, conversation_id: str, ip: str = "") -> Joined:
        """Take the conversation (Conflict if another operator has it), pause the bot, tell the citizen."""
        def claim(session: Session) -> int:
            handoff = queue.take_over(db_session=session, conversation_id=conversation_id, operator_id=operator.id, now=self.clock())
            audit.audit(db_session=session, operator_id=operator.id, action="take_over", target=conversation_id, ip=ip)
            return handoff.id

        handoff_id = await run_in_threadpool(self._in_session, claim)
        paused = await self._bot_event(conversation_id, "pause")
        if paused:
            await run_in_threadpool(self._in_session, lambda s: queue.set_bot_paused(db_session=s, handoff_id=handoff_id, paused=True))
        delivered = await self.deliver(conversation_id, texts.operator_joined(operator.display_name))
        return Joined(handoff_id, paused, delivered)

    async def say(self, operator: Operator, conversation_id: str, text: str) -> push_hub.Pushed:
        """An operator's message into the citizen's own channel."""
        text = (text or "").strip()
        if not text:
            raise errors.InvalidInput("消息不能为空。")
        if len(text) > 2000:
            raise errors.InvalidInput("消息太长了，请分几次发送（每条不超过2000字）。")
        await run_in_threadpool(self._in_session, lambda s: queue.active_handoff_of(
            db_session=s, conversation_id=conversation_id, operator_id=operator.id))
        return await self.deliveries.to_conversation(conversation_id, Reply(text=text, sender="operator"))

    async def hand_back(self, operator: Operator, conversation_id: str, ip: str = "") -> None:
        """The bot answers again, with the context: Rasa resumes the same tracker."""
        def release(session: Session) -> bool:
            handoff = queue.hand_back(db_session=session, conversation_id=conversation_id, operator_id=operator.id, now=self.clock())
            audit.audit(db_session=session, operator_id=operator.id, action="hand_back", target=conversation_id, ip=ip)
            return handoff.bot_paused

        if await run_in_threadpool(self._in_session, release):
            await self._bot_event(conversation_id, "resume")
        await self.deliver(conversation_id, texts.handed_back())

    async def close(self, operator: Operator, conversation_id: str, category: str, summary: str, ip: str = "") -> str:
        """Close with a category and summary; the bot resumes and the citizen is asked to rate. Returns the prior status."""
        def finish(session: Session) -> tuple[str, bool, int]:
            handoff = queue.closable_handoff(db_session=session, conversation_id=conversation_id, operator_id=operator.id)
            before = queue.close(db_session=session, handoff=handoff, category=category, summary=summary,
                                   operator_id=operator.id, now=self.clock())
            audit.audit(db_session=session, operator_id=operator.id, action="close", target=conversation_id,
                          detail=f"{category}（之前：{before}）", ip=ip)
            return before, handoff.bot_paused, handoff.id

        before, paused, handoff_id = await run_in_threadpool(self._in_session, finish)
        if before == "active" and paused:
            await self._bot_event(conversation_id, "resume")
        if before in ("active", "returned"):
            await self.deliver(conversation_id, texts.closed())
            # the rating of the operator's service: Rasa's rating_form takes it (actions/ratings.py)
            await self.invitations.invite(conversation_id, f"handoff:{handoff_id}", texts.rating_offer(after_operator=True))
        elif before == "waiting":
            await self.deliver(conversation_id, texts.waiting_closed())
        return before

    async def reply_work_order(self, order_number: str) -> bool:
        """Send a work order's reply into the conversation it came from (web chat, WeChat); False if it has none."""
        def load(session: Session) -> tuple[WorkOrder | None, str | None]:
            order = work_orders.find_work_order(db_session=session, number=order_number)
            conversation = session.get(Conversation, order.conversation_id) if order and order.conversation_id else None
            return order, conversation.channel if conversation is not None else None

        order, channel = await run_in_threadpool(self._in_session, load)
        if order is None or not order.conversation_id or not order.reply or channel == "voice":
            return False
        return await self.deliver(order.conversation_id, texts.work_order_reply(order))

    # --- delivery and Rasa ------------------------------------------------------------------------

    async def deliver(self, conversation_id: str, reply: Reply) -> bool:
        return (await self.deliveries.to_conversation(conversation_id, reply)).delivered

    async def _bot_event(self, conversation_id: str, event: str) -> bool:
        try:
            async with rasa_lock(conversation_id):
                await (self.rasa.pause(conversation_id) if event == "pause" else self.rasa.resume(conversation_id))
            return True
        except RasaError as exc:
            logger.error("Rasa %s for %s failed: %s", event, conversation_id, exc)
            return False

    async def understanding(self, conversation_id: str) -> dict[str, Any]:
        """What the bot understood: each user turn's intent and confidence, and the item in context."""
        try:
            tracker = await self.rasa.tracker(conversation_id)
        except RasaError as exc:
            return {"available": False, "error": f"暂时读不到机器人的理解：{exc}", "turns": [], "item": None, "paused": None}
        turns = []
        for event in tracker.get("events") or []:
            if event.get("event") != "user":
                continue
            intent = (event.get("parse_data") or {}).get("intent") or {}
            turns.append({"text": mask(event.get("text") or ""), "intent": intent.get("name"),
                          "confidence": round(float(intent.get("confidence") or 0), 3)})
        item_id = (tracker.get("slots") or {}).get("item")
        entry = get_index().kb.by_id(item_id) if item_id else None
        return {"available": True, "turns": turns[-30:], "paused": tracker.get("paused"),
                "item": {"id": entry.id, "name": entry.name, "department": entry.department} if entry else None}
