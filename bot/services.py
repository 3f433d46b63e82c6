"""The app's services, built once when the app starts and torn down completely when it stops.

`Services.start(settings)` builds them in dependency order (database and migrations, knowledge index of the newest
published version and its watcher, Rasa client, the state shared with the other app processes (bot/shared.py), push hub, deliveries, conversation service, handoff desk, booking
schedule, reminder worker, retention job); `aclose()` stops them. Views reach them through `request.app.state.services` (the
`services` dependency); Rasa actions, which run in the same process behind the action endpoint, through `current()`:
the one accessor, set while an app is running.
Tests build their own with `Services.start(...)` instead of installing globals.
"""
from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from bot.appeals.office import AppealOffice
from bot.booking import reminders
from bot.booking.schedule import Schedule
from bot.conversations.admission import TurnGate
from bot.conversations.service import ConversationService
from bot.db import Database
from bot.delivery import Deliveries
from bot.handoff import accounts
from bot.handoff.desk import Desk
from bot.handoff.invitations import RatingInvitations
from bot.messages import Reply
from bot.personal_data import retention
from bot.push import PushHub
from bot.rasa_client import RasaClient
from bot.settings import Settings
from bot.shared import SharedState
from knowledge import service as knowledge


@dataclass
class Services:
    settings: Settings
    database: Database
    rasa: RasaClient
    hub: PushHub
    deliveries: Deliveries
    conversations: ConversationService
    desk: Desk
    schedule: Schedule
    shared: SharedState
    appeals: AppealOffice
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[object]] = field(default_factory=list)

    @classmethod
    async def start(cls, settings: Settings, rasa: RasaClient | None = None, worker: bool = True) -> Services:
        database = Database(settings.database_url)
        await run_in_threadpool(database.migrate)
        search_key = settings.secret_key.get_secret_value()  # verifies the search models stored with versions
        await run_in_threadpool(knowledge.load_published, database, search_key)  # the newest version, before the first question
        rasa = rasa or RasaClient(settings.rasa_bases, timeout=settings.rasa_timeout, failover=settings.rasa_failover)
        shared = SharedState(settings.redis_url.get_secret_value())
        hub = PushHub(database, shared)
        await hub.start()
        deliveries = Deliveries(database, hub)
        deliveries.register("webchat", lambda conversation_id, reply: _push(hub, conversation_id, reply))
        if settings.twilio_account_sid and settings.twilio_sms_from:
            deliveries.register("sms", reminders.twilio_sms_outlet(
                settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value(), settings.twilio_sms_from))
        conversations = ConversationService(database, rasa, settings.max_message_chars)
        conversations.compact_every = settings.tracker_compact_every
        conversations.gate = TurnGate(settings.rasa_concurrency * len(settings.rasa_bases), settings.turn_queue_limit,
                                      settings.turn_wait_seconds)
        invitations = RatingInvitations(rasa, deliveries)
        appeals = AppealOffice(database, deliveries, invitations=invitations)
        desk = Desk(database, rasa, settings, deliveries, appeals=appeals, invitations=invitations)
        conversations.handoff = desk
        await run_in_threadpool(accounts.bootstrap_admin, database, settings)
        services = cls(settings, database, rasa, hub, deliveries, conversations, desk, Schedule.load(), shared, appeals)
        services._tasks.append(asyncio.create_task(  # a newly published version is served within seconds
            knowledge.watch(database, settings.knowledge_poll_seconds, services._stop, search_key)))
        if worker:
            services._tasks.append(asyncio.create_task(asyncio.to_thread(lambda: appeals.classifier)))  # warm up
            services._tasks.append(asyncio.create_task(appeals.run_worker(settings.reminder_poll_seconds, services._stop)))
            services._tasks.append(asyncio.create_task(
                reminders.run_worker(database, deliveries, settings.reminder_poll_seconds, services._stop)))
        if worker and settings.retention_days:
            trackers = retention.TrackerEraser(rasa, settings.tracker_database_url.get_secret_value())
            services._tasks.append(asyncio.create_task(retention.run_worker(
                database, trackers, settings.retention_days, settings.retention_poll_seconds, services._stop)))
        return services

    async def aclose(self) -> None:
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await task
        await self.rasa.aclose()
        await self.shared.aclose()
        self.database.engine.dispose()


async def _push(hub: PushHub, conversation_id: str, reply: Reply) -> None:
    """The web chat's outlet: the page reads the log, so storing and waking live pages is delivery."""
    await hub.push(conversation_id, reply)


_current: Services | None = None


def use(services: Services | None) -> None:
    """Make `services` what `current()` returns (the app's lifespan; tests of actions)."""
    global _current
    _current = services


def current() -> Services:
    """The running app's services, for Rasa actions served by the app."""
    if _current is None:
        raise RuntimeError("the app has not started: its services are built in create_app's lifespan")
    return _current


def current_or_none() -> Services | None:
    """The running app's services, or None outside an app (action tests)."""
    return _current


def services(request: Request) -> Services:
    """FastAPI dependency: the app's services."""
    found: Services = request.app.state.services
    return found
