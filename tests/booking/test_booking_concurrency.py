"""No overbooking: 200 concurrent attempts on a slot with 10 seats book exactly 10 (SQLite and PostgreSQL)."""
import datetime as dt
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.booking import service
from bot.booking.calendar import WorkCalendar
from bot.booking.models import Booking, SlotCounter
from bot.booking.schedule import Schedule
from bot.clock import TZ
from bot.db import Database
from bot.launcher import free_port

ITEM = "居民身份证办理（包括临时）"
NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=TZ)  # a Monday morning
DAY = dt.date(2026, 11, 24)


def schedule_with_capacity(capacity: int) -> Schedule:
    schedule = Schedule.load(calendar=WorkCalendar())
    group = schedule.group_for(ITEM)
    patched = group.__class__(**{**group.__dict__, "capacity": capacity})
    schedule.groups[group.id] = patched
    schedule._by_item = {item: patched if g.id == group.id else g for item, g in schedule._by_item.items()}
    return schedule


def hammer(database: Database, attempts: int = 200, seats: int = 10) -> tuple[int, list[str]]:
    schedule = schedule_with_capacity(seats)

    def attempt(n: int) -> str:
        try:
            with database.session() as session:
                service.book(db_session=session, schedule=schedule, item_name=ITEM, day=DAY, start="09:00",
                             name="测试", phone=f"139{n:08d}", now=NOW)
            return "booked"
        except service.SlotFull:
            return "full"

    with ThreadPoolExecutor(max_workers=32) as pool:
        outcomes = list(pool.map(attempt, range(attempts)))
    with database.session() as session:
        booked = session.scalar(select(func.count()).select_from(Booking).where(Booking.status == "active"))
        taken = session.scalar(select(SlotCounter.taken))
    assert taken == booked
    return booked, outcomes


def test_sqlite_books_exactly_capacity(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'c.db'}")
    database.migrate()
    booked, outcomes = hammer(database)
    assert booked == 10 and outcomes.count("booked") == 10 and outcomes.count("full") == 190


@pytest.fixture(scope="module")
def postgres_url():
    """A real PostgreSQL server from Debian's package, on loopback, stopped afterwards."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not bins:
        pytest.fail("PostgreSQL 未安装：make test 会用 apt-get install postgresql 安装")
    bin_dir = bins[-1]
    data = Path(tempfile.mkdtemp(prefix="pg-"))
    port = free_port()
    user_args = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: use the package's postgres account
        shutil.chown(data, "postgres")
        user_args = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*user_args, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
                   check=True, capture_output=True)
    subprocess.run([*user_args, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(data / "log"), "-w", "start",
                    "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*user_args, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


def test_postgresql_books_exactly_capacity(postgres_url):
    database = Database(postgres_url)
    database.migrate()
    booked, outcomes = hammer(database)
    assert booked == 10 and outcomes.count("booked") == 10 and outcomes.count("full") == 190
    database.engine.dispose()
