"""The appeals office: one object the app builds at start (bot/services.py) that holds the routing and the trained
classifier and does what needs more than the database: filing from the intake form, telling the citizen the
department's answer in the channel they used (retried until delivered), the rating of that answer, and the worker
that watches deadlines."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bot.appeals import service, texts
from bot.appeals.classifier import AppealClassifier, Classification
from bot.appeals.routing import Routing
from bot.clock import utcnow
from bot.conversations.models import Conversation, Message
from bot.delivery import STORED_ONLY, ChannelUnavailable, Deliveries
from bot.handoff.models import RATING_LEVELS, Rating, WorkOrder
from bot.messages import Reply

if TYPE_CHECKING:
    from bot.db import Database
    from bot.handoff.invitations import RatingInvitations

logger = logging.getLogger(__name__)
# words of a problem someone must fix, in a question the guides do not answer ("楼下餐馆油烟太大，归哪个部门管")
PROBLEM = re.compile(r"坏了|坏掉|烂|堵|漏|渗水|吵|噪音|扰民|臭|脏|垃圾|污染|排污|冒烟|油烟|拖欠|欠薪|欠.{0,6}工资|不给钱|不发|"
                     r"没人管|不管|乱收费|乱|占道|违建|违章|私搭|偷|骗|打人|威胁|停水|停电|没水|没电|断水|断电|塌|垮|危险|"
                     r"隐患|投诉|举报|反映|不合理|欺负|霸占|强拆|扣押|克扣|不退|不办|刁难|推诿")
RECOGNISE_CONFIDENCE = 0.15  # low: the cue words decide; an uncertain route is confirmed by the hotline


class AppealOffice:
    def __init__(self, database: Database, deliveries: Deliveries, routing: Routing | None = None,
                 classifier: AppealClassifier | None = None, clock: Callable[[], dt.datetime] = utcnow,
                 invitations: RatingInvitations | None = None):
        self.database, self.deliveries, self.clock = database, deliveries, clock
        self.invitations = invitations  # bot/handoff/invitations.py: the rating of an answer, asked in Rasa
        self.routing = routing or Routing.load()
        self._classifier = classifier
        self._training = threading.Lock()

    @property
    def classifier(self) -> AppealClassifier:
        """Trained on first use (about a second); the app warms it up in the background at start."""
        with self._training:
            if self._classifier is None:
                self._classifier = AppealClassifier.cached(self.routing)
            return self._classifier

    def classify(self, text: str) -> Classification:
        return self.classifier.classify(text)

    def recognise(self, text: str) -> Classification | None:
        """A question the knowledge base cannot answer that describes a problem for a department (油烟、停水、欠薪):
        its classification, so the assistant offers to file it as an appeal; None for anything else."""
        if len(text.strip()) < 8 or not PROBLEM.search(text):
            return None
        classification = self.classify(text)
        return classification if classification.confidence >= RECOGNISE_CONFIDENCE else None

    def file(self, intake: service.Intake, channel: str, conversation_id: str | None) -> WorkOrder:
        """Classify, route and store in one transaction; the number exists in the database when this returns."""
        classification = self.classify(" ".join(part for part in (intake.what, intake.wish) if part))
        with self.database.session() as session:
            order = service.file_appeal(db_session=session, routing=self.routing, classification=classification, intake=intake,
                                        now=self.clock(), channel=channel, conversation_id=conversation_id)
            session.commit()
            session.refresh(order)
            session.expunge(order)
            return order

    def status_reply(self, session: Session, order: WorkOrder, own: bool) -> Reply:
        return texts.status(order, self.routing.department_name(order.department), own)

    # --- the department's answer reaches the citizen ---------------------------------------------

    async def deliver_answer(self, number: str) -> bool:
        """Send the answer by the citizen's channel (a phone caller gets an SMS); True once delivered. Not delivered
        now: the worker retries (reply_delivered_at stays empty)."""
        def load() -> tuple[WorkOrder | None, str, bool]:
            with self.database.session() as session:
                order = session.scalar(select(WorkOrder).where(WorkOrder.number == number))
                if order is None or order.status != "replied" or order.reply_delivered_at is not None:
                    return None, "", False
                conversation = session.get(Conversation, order.conversation_id) if order.conversation_id else None
                logged = order.conversation_id is not None and session.scalar(select(Message.id).where(
                    Message.conversation_id == order.conversation_id, Message.direction == "out",
                    Message.text.startswith(texts.answer_opening(order)))) is not None
                session.expunge(order)
                return order, conversation.channel if conversation else order.channel, logged

        order, channel, logged = await run_in_threadpool(load)
        if order is None:
            return False
        name = self.routing.department_name(order.department)
        try:
            if channel == "voice" or not order.conversation_id:
                if order.contact_phone:  # a phone caller hears back by SMS
                    await self.deliveries.send("sms", order.contact_phone, texts.answer(order, name, voice=True))
                # an anonymous caller left no way back: the answer waits for them in the status query
            elif logged:  # in the conversation's log already: only the channel's own send is retried
                await self.deliveries.send(channel, order.conversation_id, texts.answer(order, name))
            else:  # logged first, so a citizen who is not online now reads it when they come back
                pushed = await self.deliveries.to_conversation(order.conversation_id, texts.answer(order, name))
                if not pushed.delivered and channel not in STORED_ONLY and channel in self.deliveries.channels():
                    return False  # the channel (WeChat) did not take it: the worker sends it again
        except ChannelUnavailable as exc:
            logger.warning("appeal %s: answer cannot be sent (%s); it stays in the status query", number, exc)
        except Exception as exc:  # noqa: BLE001  (a network fault: the worker retries)
            logger.warning("appeal %s: answer not delivered yet: %r", number, exc)
            return False

        def mark() -> None:
            with self.database.session() as session:
                stored = session.scalar(select(WorkOrder).where(WorkOrder.number == number))
                assert stored is not None  # loaded above; orders are never deleted
                stored.reply_delivered_at = self.clock()
                session.commit()
        await run_in_threadpool(mark)
        if order.conversation_id and channel != "voice" and self.invitations is not None:
            # the answer asks for a rating; Rasa's rating_form takes it (actions/ratings.py). After the tracker's
            # session ends (an hour without messages) the form is gone, and a level said in words still rates the answer.
            await self.invitations.invite(order.conversation_id, f"appeal:{number}")
        return True

    def rate(self, session: Session, conversation_id: str, number: str, level: str, now: dt.datetime) -> tuple[Reply, Rating, bool]:
        """The citizen's rating of the department's answer; 不满意 or worse reopens the order for review (the reply
        then invites a comment, added to the order). Returns the reply, the rating and whether it reopened the order."""
        order = session.scalar(select(WorkOrder).where(WorkOrder.number == number))
        rating = Rating(conversation_id=conversation_id, level=level, score=RATING_LEVELS[level],
                        channel=order.channel if order else "", work_order_id=order.id if order else None, created_at=now)
        session.add(rating)
        reopened = order is not None and rating.score <= 2
        if reopened and order is not None:
            service.reopen(db_session=session, order=order, level=level, now=now)
        elif order is not None and order.status == "replied":
            order.status = "closed"
        session.flush()
        return texts.rated(level, reopened), rating, reopened

    # --- the worker -------------------------------------------------------------------------------

    def check_once(self) -> tuple[list[str], list[str], list[str]]:
        """One pass: reminders, overdue alerts, and the answers still to deliver (numbers)."""
        with self.database.session() as session:
            reminded, overdue = service.check_deadlines(db_session=session, routing=self.routing, now=self.clock())
            undelivered = list(session.scalars(select(WorkOrder.number).where(
                WorkOrder.category == "appeal", WorkOrder.status == "replied", WorkOrder.reply_delivered_at.is_(None))))
            session.commit()
            return [o.number for o in reminded], [o.number for o in overdue], undelivered

    async def run_worker(self, poll_seconds: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                _, _, undelivered = await run_in_threadpool(self.check_once)
                for number in undelivered:
                    await self.deliver_answer(number)
            except Exception:  # noqa: BLE001  (the worker must outlive one bad pass)
                logger.exception("appeals worker pass failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=poll_seconds)
            except asyncio.TimeoutError:
                pass
