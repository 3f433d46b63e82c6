"""Database engine and sessions (SQLAlchemy 2): SQLite file by default, PostgreSQL when scaled out."""
from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


class Base(DeclarativeBase):
    pass


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
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
        self._sqlite_turn = threading.RLock() if url.startswith("sqlite") else nullcontext()

    def create_all(self) -> None:
        import bot.booking.models  # noqa: F401  (register the tables)
        import bot.conversations.models  # noqa: F401
        import bot.handoff.models  # noqa: F401

        Base.metadata.create_all(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        with self._sqlite_turn:
            session = self.sessions()
            try:
                yield session
                session.commit()
            except Exception:
                session.rollback()
                raise
            finally:
                session.close()
