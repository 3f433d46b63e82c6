"""What the running app process holds once (database, booking schedule), for code that is not an
HTTP view, such as Rasa actions served by the app. Set by the app's lifespan."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.booking.schedule import Schedule
    from bot.db import Database

_database: "Database | None" = None
_schedule: "Schedule | None" = None


def configure(database: "Database", schedule: "Schedule") -> None:
    global _database, _schedule
    _database, _schedule = database, schedule


def database() -> "Database":
    if _database is None:
        raise RuntimeError("the app has not started: bot.runtime.configure() was not called")
    return _database


def schedule() -> "Schedule":
    if _schedule is None:
        raise RuntimeError("the app has not started: bot.runtime.configure() was not called")
    return _schedule
