"""The retention job (RETENTION_DAYS > 0): every RETENTION_POLL_SECONDS, each app process tries to run one pass of
`service.erase_expired`; on PostgreSQL an advisory lock lets one process at a time do it. Rasa's copies of the erased
conversations go too: rows of Rasa's SQL tracker store (TRACKER_DATABASE_URL, the production profile), or, on the
embedded default, the in-memory trackers emptied through Rasa's API."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, create_engine, text
from starlette.concurrency import run_in_threadpool

from bot import clock
from bot.personal_data import service

if TYPE_CHECKING:
    from bot.db import Database
    from bot.rasa_client import RasaClient

logger = logging.getLogger(__name__)

RETENTION_LOCK = 12346  # PostgreSQL advisory lock id (12345 is the migrations')


class TrackerEraser:
    """Erases Rasa's trackers of conversations: in Rasa's SQL tracker store when its URL is known, else via Rasa."""

    def __init__(self, rasa: RasaClient, tracker_database_url: str = ""):
        self.rasa = rasa
        self.engine = create_engine(tracker_database_url, pool_size=1, max_overflow=1) if tracker_database_url else None

    def _delete_rows(self, senders: list[str]) -> None:
        statement = text("DELETE FROM events WHERE sender_id IN :senders").bindparams(bindparam("senders", expanding=True))
        assert self.engine is not None  # erase() deletes rows itself only with an engine
        with self.engine.begin() as connection:
            connection.execute(statement, {"senders": senders})

    async def erase(self, senders: list[str]) -> None:
        if not senders:
            return
        if self.engine is not None:
            await run_in_threadpool(self._delete_rows, senders)
            return
        for sender in senders:
            try:
                await self.rasa.replace_events(sender, [])
            except Exception as exc:  # noqa: BLE001  (Rasa forgets in-memory trackers anyway: RASA_TRACKERS_KEPT, restarts)
                logger.warning("could not empty Rasa's tracker of an erased conversation: %r", exc)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def one_pass(database: Database, days: int) -> service.Erased:
    with database.session() as session:
        if session.get_bind().dialect.name == "postgresql":
            if not session.execute(text(f"SELECT pg_try_advisory_xact_lock({RETENTION_LOCK})")).scalar():
                return service.Erased()  # another app process is doing it
        return service.erase_expired(db_session=session, now=clock.utcnow(), days=days)


async def run_worker(database: Database, trackers: TrackerEraser, days: int, poll_seconds: float, stop: asyncio.Event) -> None:
    """Erase what is older than `days` until stopped; errors are logged and the job goes on at the next poll."""
    while not stop.is_set():
        await erase_all_expired(database, trackers, days, stop)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=poll_seconds)


async def erase_all_expired(database: Database, trackers: TrackerEraser, days: int, stop: asyncio.Event) -> None:
    """Passes of at most service.BATCH of each kind, until nothing older than `days` is left."""
    try:
        while not stop.is_set():
            erased = await run_in_threadpool(one_pass, database, days)
            await trackers.erase(erased.tracker_senders)
            if erased.conversations + erased.bookings + erased.work_orders:
                logger.info("retention: %s", erased.summary())
            if max(erased.conversations, erased.bookings, erased.work_orders) < service.BATCH:
                return
    except Exception:
        logger.exception("retention pass failed")
