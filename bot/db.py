"""Database engine and sessions (SQLAlchemy 2): SQLite file by default, PostgreSQL when scaled out."""
from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Connection, CursorResult, Engine, Result
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from starlette.concurrency import run_in_threadpool

if TYPE_CHECKING:
    from alembic.config import Config


T = TypeVar("T")


class Base(DeclarativeBase):
    pass


MIGRATIONS = Path(__file__).parent / "migrations"
FIRST_REVISION = "0001"  # the schema `create_all` made before migrations existed


def alembic_config() -> Config:
    """Alembic's settings, without an alembic.ini: the scripts' folder; env.py takes the connection from attributes."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def new_revision(message: str) -> str:
    """Write the migration from the newest revision to the models (`python -m bot db revision "..."`), found by
    Alembic's autogenerate against a scratch SQLite database brought to the newest revision; returns its path."""
    import tempfile

    from alembic import command
    from alembic.script import Script

    with tempfile.TemporaryDirectory() as scratch:
        database = Database(f"sqlite:///{scratch}/scratch.db")
        database.migrate()
        config = alembic_config()
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            script = command.revision(config, message=message, autogenerate=True)
        database.engine.dispose()
    assert isinstance(script, Script), script  # one head: one new script
    return script.path


def import_models() -> None:
    """Register every table on Base.metadata."""
    import bot.booking.models  # noqa: F401
    import bot.conversations.models  # noqa: F401
    import bot.handoff.models  # noqa: F401
    import bot.insight.models  # noqa: F401  (turn_outcomes, booking_attendance)
    import bot.push  # noqa: F401  (push_outbox)
    import knowledge.models  # noqa: F401  (knowledge_versions)


def _set_wal(cursor: Any, patience: float = 30.0) -> None:
    """Put the file in WAL mode (it stays so). Changing the mode of a new file while another process's connection is
    changing it too fails at once with "database is locked": SQLite's busy timeout does not cover it. So the mode is
    read first (a file already in WAL needs nothing) and the change retried for as long as the busy timeout would."""
    deadline = time.monotonic() + patience
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
            cursor = dbapi_connection.cursor()
            _set_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Connection) -> None:
            # IMMEDIATE takes the write lock up front and waits for it (busy timeout): a transaction
            # that read first and writes later can otherwise fail with SQLITE_BUSY under concurrency,
            # e.g. two bookings of the last seat. It also makes SAVEPOINTs work with pysqlite.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str):
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time and every transaction here begins IMMEDIATE. Threads of this process
        # queue on a Python lock, which hands over at once, instead of on SQLite's busy handler, which polls with
        # sleeps of up to 100 ms (the app's p99 under load was mostly those sleeps). Other processes on the same
        # file are still kept apart by SQLite itself. PostgreSQL needs none of this.
        self._sqlite_lock = threading.RLock() if url.startswith("sqlite") else None

    async def call(self, work: Callable[..., T], *args: Any) -> T:
        """`work(*args)` (which opens its own sessions) for a coroutine of a citizen's turn, without blocking the event
        loop on a wait. PostgreSQL: always in a worker thread (its statements wait on the network). SQLite: on the event
        loop itself when no other thread of this process is using the database, else in a worker thread: a transaction
        on the local file commits without a disk flush (WAL, synchronous=NORMAL) in less time than the hop to a worker
        thread and back (two storing transactions a turn: about 0.4 ms of the app's latency at one client, measured in
        docs/performance.md). Only another process writing the same file (a `python -m bot kb` command) can make it wait
        (SQLite's busy timeout), as it would make the worker thread wait."""
        if self._sqlite_lock is not None and self._sqlite_lock.acquire(blocking=False):
            try:
                return work(*args)
            finally:
                self._sqlite_lock.release()
        return await run_in_threadpool(work, *args)

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (bot/migrations/versions/), in one transaction.

        Several processes starting at once take turns: SQLite transactions here begin IMMEDIATE (one writer), and
        on PostgreSQL an advisory lock is taken first; the second finds the schema current and does nothing. A
        database made by the earlier `create_all` (tables, no alembic_version) is recorded as revision 0001 first.
        """
        from alembic import command

        config = alembic_config()
        with self._sqlite_lock or nullcontext(), self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(12345)")
            config.attributes["connection"] = connection
            tables = set(inspect(connection).get_table_names())
            if "conversations" in tables and "alembic_version" not in tables:
                command.stamp(config, FIRST_REVISION)
            command.upgrade(config, "head")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        with self._sqlite_lock or nullcontext():
            session = self.sessions()
            try:
                yield session
                session.commit()
            except Exception:
                session.rollback()
                raise
            finally:
                session.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A Core connection in a transaction, committed on success and rolled back on error: for the statements every
        turn runs, which need no ORM (an ORM session's own bookkeeping costs more than such a statement, docs/performance.md)."""
        with self._sqlite_lock or nullcontext(), self.engine.begin() as connection:
            yield connection


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched (Session.execute returns a CursorResult for them; its type says Result)."""
    return cast(CursorResult[Any], result).rowcount
