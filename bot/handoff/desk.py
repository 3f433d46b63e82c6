"""The handoff desk: routes a citizen's message before Rasa (operator mode, the app's own questions,
work order numbers, 代办 requests, sensitive words), escalates, and carries out the operators' take-over,
messages, hand-back and close: Rasa pause/resume events, pushes into the citizen's own channel.

One desk per app process, built with the app's services (bot/services.py); Rasa actions reach it through
`bot.services.current().desk`.
Database work runs in the thread pool; the services in `bot.handoff` (queue, duty, pending, work_orders, ratings, audit) do the deciding.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field

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
from bot.handoff import audit, duty, pending, queue, ratings, texts, work_orders
from bot.handoff.models import Operator, WorkOrder
from bot.messages import Reply
from bot.privacy import mask
from bot.rasa_client import RasaClient, RasaError
from knowledge.service import get_index

logger = logging.getLogger(__name__)

CANCEL = re.compile(r"^(取消|算了|不用了?|不要了?|退出|不需要了?|不办了|不留了?)[。！!.，,\s]*$")
CANCEL_QUEUE = re.compile(r"^(取消排队|不排了|不排队了|不等了|不用人工了|取消转人工)[。！!.，,\s]*$")
NO_PHONE = re.compile(r"^(不留|不想留|不方便留|不用留|没有电话|没电话)")
MESSAGE_CHOICE = re.compile(r"^(1|１|留言|我要留言|留言投诉|留个言)[。！!.\s]*$")
CALLBACK_CHOICE = re.compile(r"^(2|２|预约回电|回电|请回电|给我回电话?|打电话给我)[。！!.\s]*$")
NO_CHOICE = re.compile(r"^(3|３)$")
# The choice said in a sentence, with or without more ("那麻烦留个言，电话159…，姓陈"; "给我回个电话嘛").
MESSAGE_WORDS = re.compile(r"留.{0,2}言|留言投诉|我要投诉")
CALLBACK_WORDS = re.compile(r"回.{0,2}电话?|打.{0,2}电话给我|给我打.{0,2}电话")
# A question rather than an account of what happened (after a complaint offer, an account is the complaint itself).
QUESTION = re.compile(r"[？?]|吗|怎么|咋|如何|多久|多少|哪[里儿个些]|什么|啥|能不能|可不可以|可以.{0,6}不|要不要|是不是|有没有")
LEAVING = re.compile(r"再见|拜拜|就这样|就这些|没有了|不用了谢谢|先这样")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3}-?\d{7,8})(?!\d)")
AGENCY_ASK = re.compile(r"申请代办|代办服务|帮办服务|帮办|代办员|代办点|帮我代办|找人代办|上门代办|代跑")
AGENCY_WORD = re.compile(r"代办")
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


@dataclass
class Joined:
    handoff_id: int
    bot_paused: bool
    delivered: bool


class Desk:
    def __init__(self, database, rasa: RasaClient, settings, deliveries: Deliveries, calendar: WorkCalendar | None = None,
                 clock=utcnow, appeals=None):
        self.database, self.rasa, self.settings, self.deliveries = database, rasa, settings, deliveries
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
        waiting = pending.get_pending(db_session=session, conversation_id=conversation_id, now=now)
        if waiting is not None:
            replies = self._answer_pending(session, waiting, conversation_id, text, now)
            if replies is not None:
                return Routed(replies)
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
        if AGENCY_ASK.search(text) or AGENCY_WORD.search(text):
            replies = self._agency(session, conversation_id, text, now, asked=bool(AGENCY_ASK.search(text)))
            if replies is not None:
                return Routed(replies)
        if any(word in text for word in duty.sensitive_words(db_session=session, settings=self.settings)):
            return Routed(self._escalate(session, conversation_id, "sensitive", now))
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

    async def escalate(self, conversation_id: str, reason: str) -> list[Reply]:
        """A citizen should reach a person: queue (on duty) or offer a message or callback (off duty)."""
        def run() -> list[Reply]:
            with self.database.session() as session:
                return self._escalate(session, conversation_id, reason, self.clock())
        return await run_in_threadpool(run)

    def _escalate(self, session: Session, conversation_id: str, reason: str, now: dt.datetime) -> list[Reply]:
        channel = queue.conversation_channel(db_session=session, conversation_id=conversation_id)
        if channel == "voice":  # the call is transferred to the operator line instead of queueing here
            queue.record_transfer(db_session=session, conversation_id=conversation_id,
                                    reason="caller" if reason == "asked" else reason, now=now)
            return [texts.transferring()]
        existing = queue.open_handoff(db_session=session, conversation_id=conversation_id)
        if existing is not None and existing.status == "active":
            return [texts.being_served()]
        config = duty.duty_config(db_session=session, settings=self.settings)
        on_duty = duty.in_duty_hours(config, now, self.calendar)
        online = duty.operators_online(db_session=session, now=now, presence_seconds=self.settings.handoff_presence_seconds)
        if existing is None and not (on_duty and online):
            pending.set_pending(db_session=session, conversation_id=conversation_id, kind="ticket_offer",
                                data={"reason": reason}, now=now)
            return [texts.offline(reason, off_hours=not on_duty, duty=duty.duty_description(config))]
        handoff, created = queue.enqueue(db_session=session, conversation_id=conversation_id, reason=reason, now=now)
        position = queue.queue_position(db_session=session, handoff=handoff)
        wait = queue.wait_minutes(db_session=session, position=position, operators=online,
                                    default_minutes=self.settings.handoff_default_minutes)
        return [texts.queued(reason, position, wait, already=not created)]

    async def record_call(self, channel: str, sender: str) -> None:
        """A caller pressed 0: the call goes to the operator line; keep the record (reason "caller")."""
        def run() -> None:
            with self.database.session() as session:
                conversation = get_or_create_conversation(db_session=session, channel=channel, sender=sender)
                queue.record_transfer(db_session=session, conversation_id=conversation.id, reason="caller", now=self.clock())
        await run_in_threadpool(run)

    # --- the app's own questions: leave a message, request a callback, 代办, rate ------------------

    def _answer_pending(self, session: Session, waiting, conversation_id: str, text: str, now: dt.datetime) -> list[Reply] | None:
        """The reply to what the desk asked last, or None (pending dropped) when the text is something else."""
        kind, data = waiting.kind, dict(waiting.data or {})

        def ask(next_kind: str, reply: Reply, **more) -> list[Reply]:
            pending.set_pending(db_session=session, conversation_id=conversation_id, kind=next_kind, data={**data, **more}, now=now)
            return [reply]

        def done(reply: Reply) -> list[Reply]:
            pending.clear_pending(db_session=session, conversation_id=conversation_id)
            return [reply]

        if kind in ("ticket_offer", "rating"):
            if kind == "ticket_offer":
                complaint = data.get("reason") == "complaint"
                if CANCEL.match(text) or NO_CHOICE.match(text):
                    return done(texts.cancelled())
                phone = phone_in(text)  # said with the choice: not asked again
                if MESSAGE_CHOICE.match(text) or MESSAGE_WORDS.search(text):
                    category = "complaint" if complaint or "投诉" in text else "message"
                    return ask("ticket_description", texts.ask_description(category), category=category, phone=phone)
                if CALLBACK_CHOICE.match(text) or CALLBACK_WORDS.search(text):
                    return ask("ticket_description", texts.ask_description("callback"), category="callback", phone=phone)
                if complaint and len(text.strip()) >= 6 and not QUESTION.search(text) and not LEAVING.search(text):
                    # "昨天下午三点过，公安那个窗口，一个女的，冲我吼": the citizen goes on telling what happened
                    data["category"] = "complaint"
                    return self._described(session, ask, done, data, conversation_id, text, now)
            else:
                level = ratings.level_of(text, allow_number=True)
                if level is not None and data.get("appeal") and self.appeals is not None:  # the department's answer
                    return done(self.appeals.rate(session, conversation_id, data["appeal"], level, now))
                if level is not None:
                    return self._rate(session, conversation_id, level, data.get("handoff_id"), now)
            pending.clear_pending(db_session=session, conversation_id=conversation_id)
            return None  # something else: Rasa answers it
        if kind == "rating_comment":
            if CANCEL.match(text) or re.match(r"^(没有了?|没了|谢谢|好的)[。！!.\s]*$", text):
                return done(texts.rating_done())
            ratings.add_rating_comment(db_session=session, rating_id=data["rating_id"], comment=text)
            return done(texts.comment_thanks())
        if CANCEL.match(text) and not (kind == "ticket_contact" and NO_PHONE.match(text)):
            return done(texts.cancelled())
        channel = queue.conversation_channel(db_session=session, conversation_id=conversation_id)
        if kind == "ticket_description":
            if len(text.strip()) < 4:
                return ask(kind, texts.too_short())
            return self._described(session, ask, done, data, conversation_id, text, now)
        if kind == "ticket_contact":
            phone = phone_in(text)
            if phone is None and LEAVING.search(text):  # the citizen leaves: what they told is kept, never lost
                if data["category"] == "callback":
                    return [*done(texts.callback_dropped()), *self._goodbye(session, conversation_id, now)]
                order = work_orders.create_work_order(db_session=session, category=data["category"], description=data["description"],
                                                      contact_phone="", channel=channel, conversation_id=conversation_id, now=now)
                return [*done(texts.ticket_created(order)), *self._goodbye(session, conversation_id, now)]
            if phone is None and not (data["category"] != "callback" and NO_PHONE.match(text)):
                tries = data.get("tries", 0) + 1
                if tries >= 3:
                    return done(texts.gave_up())
                return ask(kind, texts.bad_phone(), tries=tries)
            order = work_orders.create_work_order(db_session=session, category=data["category"], description=data["description"],
                                              contact_phone=phone or "", channel=channel, conversation_id=conversation_id, now=now)
            return done(texts.ticket_created(order))
        if kind == "agency_village":
            if len(text.strip()) < 2:
                return ask(kind, texts.ask_village(data["item_name"]))
            return ask("agency_contact", texts.ask_agency_contact(), village=text.strip()[:128])
        if kind == "agency_contact":
            phone = phone_in(text)
            if phone is None:
                tries = data.get("tries", 0) + 1
                if tries >= 3:
                    return done(texts.gave_up())
                return ask(kind, texts.bad_phone(), tries=tries)
            name = re.sub(r"[\d\s,，。:：;；()（）+-]|电话|手机|姓名|联系人|我叫|我是", "", text)[:32]
            order = work_orders.create_work_order(
                db_session=session, category="agency", now=now, channel=channel, conversation_id=conversation_id,
                description=f"申请代办“{data['item_name']}”。", contact_phone=phone, contact_name=name,
                village=data["village"], item_id=data["item_id"], item_name=data["item_name"])
            return done(texts.agency_created(order))
        pending.clear_pending(db_session=session, conversation_id=conversation_id)
        return None

    def _described(self, session: Session, ask, done, data: dict, conversation_id: str, text: str, now: dt.datetime) -> list[Reply]:
        """The citizen has said what the work order is about: file it if the phone is known, else ask for it."""
        if not data.get("phone"):
            return ask("ticket_contact", texts.ask_contact(data["category"]), description=text.strip())
        channel = queue.conversation_channel(db_session=session, conversation_id=conversation_id)
        order = work_orders.create_work_order(db_session=session, category=data["category"], description=text.strip(),
                                              contact_phone=data["phone"], channel=channel, conversation_id=conversation_id, now=now)
        return done(texts.ticket_created(order))

    def _goodbye(self, session: Session, conversation_id: str, now: dt.datetime) -> list[Reply]:
        """Goodbye and, unless rated a moment ago, the invitation to rate (as Rasa's goodbye does)."""
        if ratings.rated_recently(db_session=session, conversation_id=conversation_id, now=now):
            return [texts.goodbye()]
        pending.set_pending(db_session=session, conversation_id=conversation_id, kind="rating", data={}, now=now)
        return [texts.goodbye(), texts.rating_offer()]

    def _agency(self, session: Session, conversation_id: str, text: str, now: dt.datetime, asked: bool) -> list[Reply] | None:
        """A request for 代办/帮办: for an item the knowledge base marks 代办, ask the village and contact."""
        kb = get_index().kb
        agency = [entry for entry in kb.guides if entry.get("代办")]
        resolution = get_index().resolve(re.sub(r"申请代办|代办服务|帮办服务|申请|代办|帮办|可以|能不能|能否|吗|[？?]", "", text) or text)
        entry = resolution.entry if resolution.kind == "answer" else None
        if entry is None and asked:
            entry = self._item_in_context(session, conversation_id)
        if entry is not None and entry.get("代办"):
            pending.set_pending(db_session=session, conversation_id=conversation_id, kind="agency_village",
                                data={"item_id": entry.id, "item_name": entry.name}, now=now)
            return [texts.ask_village(entry.name)]
        if not asked:
            return None  # "身份证可以代办吗" (may someone else apply for me?) is a question about the guide: Rasa answers
        if entry is not None:
            return [texts.not_agency(entry.name, [e.name for e in agency])]
        return [texts.choose_agency_item([e.name for e in agency])]

    @staticmethod
    def _item_in_context(session: Session, conversation_id: str):
        """The item of the latest guide answer (answers start with 【事项名称】), for "申请代办" on its own."""
        rows = session.scalars(select(Message.text).where(Message.conversation_id == conversation_id, Message.direction == "out")
                               .order_by(Message.id.desc()).limit(10))
        for text in rows:
            match = ANSWER_ITEM.match(text or "")
            if match:
                return get_index().kb.by_name(match.group(1))
        return None

    # --- ratings ----------------------------------------------------------------------------------

    def _rate(self, session: Session, conversation_id: str, level: str, handoff_id: int | None, now: dt.datetime) -> list[Reply]:
        rating = ratings.record_rating(db_session=session, conversation_id=conversation_id, level=level, handoff_id=handoff_id, now=now)
        order = session.get(WorkOrder, rating.work_order_id) if rating.work_order_id else None
        pending.set_pending(db_session=session, conversation_id=conversation_id, kind="rating_comment",
                            data={"rating_id": rating.id}, now=now)
        return [texts.rating_thanks(level, order)]

    async def rate_or_offer(self, conversation_id: str, text: str, goodbye: bool = False) -> list[Reply]:
        """For Rasa's rating action: record the level the text names, or offer the five levels."""
        def run() -> list[Reply]:
            now = self.clock()
            with self.database.session() as session:
                level = None if goodbye else ratings.level_of(text)
                if level is not None:
                    return self._rate(session, conversation_id, level, None, now)
                if goodbye and ratings.rated_recently(db_session=session, conversation_id=conversation_id, now=now):
                    return []
                pending.set_pending(db_session=session, conversation_id=conversation_id, kind="rating", data={}, now=now)
                return [texts.rating_offer()]
        return await run_in_threadpool(run)

    # --- operators --------------------------------------------------------------------------------

    def _in_session(self, work):
        with self.database.session() as session:
            return work(session)

    async def take_over(self, operator: Operator, conversation_id: str, ip: str = "") -> Joined:
        """Take the conversation (Conflict if another operator has it), pause the bot, tell the citizen."""
        def claim(session: Session) -> int:
            handoff = queue.take_over(db_session=session, conversation_id=conversation_id, operator_id=operator.id, now=self.clock())
            pending.clear_pending(db_session=session, conversation_id=conversation_id)
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
        def finish(session: Session) -> tuple[str, bool]:
            handoff = queue.closable_handoff(db_session=session, conversation_id=conversation_id, operator_id=operator.id)
            before = queue.close(db_session=session, handoff=handoff, category=category, summary=summary,
                                   operator_id=operator.id, now=self.clock())
            if before in ("active", "returned"):
                pending.set_pending(db_session=session, conversation_id=conversation_id, kind="rating",
                                    data={"handoff_id": handoff.id}, now=self.clock())
            audit.audit(db_session=session, operator_id=operator.id, action="close", target=conversation_id,
                          detail=f"{category}（之前：{before}）", ip=ip)
            return before, handoff.bot_paused

        before, paused = await run_in_threadpool(self._in_session, finish)
        if before == "active" and paused:
            await self._bot_event(conversation_id, "resume")
        if before in ("active", "returned"):
            await self.deliver(conversation_id, texts.closed())
            await self.deliver(conversation_id, texts.rating_offer(after_operator=True))
        elif before == "waiting":
            await self.deliver(conversation_id, texts.waiting_closed())
        return before

    async def reply_work_order(self, order_number: str) -> bool:
        """Send a work order's reply into the conversation it came from (web chat, WeChat); False if it has none."""
        def load(session: Session):
            order = work_orders.find_work_order(db_session=session, number=order_number)
            channel = session.get(Conversation, order.conversation_id).channel if order and order.conversation_id else None
            return order, channel

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

    async def understanding(self, conversation_id: str) -> dict:
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
