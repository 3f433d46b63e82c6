"""Reminder outbox worker: sends due reminders (SMS through Twilio's Messaging API, and the citizen's own
channel where one is registered), retries failures with back-off, never sends a cancelled booking's."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from starlette.concurrency import run_in_threadpool

from bot import clock
from bot.booking.models import Booking, Reminder
from bot.db import Database, rowcount
from bot.delivery import ChannelUnavailable, Deliveries, Outlet
from bot.messages import Reply
from bot.privacy import mask

if TYPE_CHECKING:
    from twilio.http import HttpClient

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


def twilio_sms_outlet(account_sid: str, auth_token: str, from_: str, http_client: HttpClient | None = None) -> Outlet:
    """SMS via Twilio's Messaging API, the "sms" channel's outlet (`http_client` lets tests replace the HTTP layer)."""
    from twilio.rest import Client

    client = Client(account_sid, auth_token, http_client=http_client)

    async def send(phone: str, reply: Reply) -> None:
        await run_in_threadpool(lambda: client.messages.create(to="+86" + phone, from_=from_, body=reply.text))

    return send


def _claim_due(database: Database, now: dt.datetime, limit: int = 50) -> list[tuple[int, str, str, str, int, bool]]:
    """Mark due reminders as sending (so another replica does not take them) and return them."""
    claimed: list[tuple[int, str, str, str, int, bool]] = []
    with database.session() as session:
        due = session.scalars(
            select(Reminder).where(Reminder.status == "pending", Reminder.next_attempt_at <= now).order_by(Reminder.id).limit(limit)
        ).all()
        for reminder in due:
            taken = rowcount(session.execute(
                update(Reminder).where(Reminder.id == reminder.id, Reminder.status == "pending").values(status="sending")
            ))
            if not taken:
                continue
            booking = session.scalar(select(Booking).where(Booking.code == reminder.booking_code))
            active = booking is not None and booking.status == "active"
            claimed.append((reminder.id, reminder.channel, reminder.target, reminder.text, reminder.attempts, active))
    return claimed


def _finish(database: Database, reminder_id: int, status: str, attempts: int, error: str | None, next_at: dt.datetime | None) -> None:
    with database.session() as session:
        values: dict[str, Any] = {"status": status, "attempts": attempts, "last_error": error}
        if next_at is not None:
            values["next_attempt_at"] = next_at
        session.execute(update(Reminder).where(Reminder.id == reminder_id).values(**values))


async def send_due(database: Database, deliveries: Deliveries, now: dt.datetime | None = None) -> dict[str, int]:
    """Send every due reminder once through its channel's outlet; returns counts by outcome."""
    now = (now or clock.utcnow()).astimezone(dt.timezone.utc)
    counts = {"sent": 0, "retry": 0, "failed": 0, "cancelled": 0}
    for reminder_id, channel, target, text, attempts, active in await run_in_threadpool(_claim_due, database, now):
        if not active:
            await run_in_threadpool(_finish, database, reminder_id, "cancelled", attempts, None, None)
            counts["cancelled"] += 1
            continue
        try:
            await deliveries.send(channel, target, Reply(text=text, sender="system"))
        except ChannelUnavailable as exc:
            await run_in_threadpool(_finish, database, reminder_id, "failed", attempts + 1, str(exc), None)
            counts["failed"] += 1
            logger.warning("reminder %s to %s not deliverable: %s", reminder_id, mask(target), exc)
        except Exception as exc:  # any send failure is retried with back-off, and kept after the last try
            attempts += 1
            final = attempts >= MAX_ATTEMPTS
            await run_in_threadpool(_finish, database, reminder_id, "failed" if final else "pending", attempts, repr(exc)[:500],
                                    None if final else now + backoff(attempts))
            counts["failed" if final else "retry"] += 1
            logger.warning("reminder %s to %s failed (attempt %s): %r", reminder_id, mask(target), attempts, exc)
        else:
            await run_in_threadpool(_finish, database, reminder_id, "sent", attempts + 1, None, None)
            counts["sent"] += 1
    return counts


async def run_worker(database: Database, deliveries: Deliveries, poll_seconds: float, stop: asyncio.Event) -> None:
    """Poll the outbox until stopped; errors are logged and the loop goes on."""
    while not stop.is_set():
        try:
            await send_due(database, deliveries)
        except Exception:
            logger.exception("reminder worker pass failed")
        try:
            await asyncio.wait_for(stop.wait(), timeout=poll_seconds)
        except asyncio.TimeoutError:
            pass
