"""bot/db.py `Database.call`: a turn's storing work runs on the event loop when the SQLite database is free, and in a
worker thread when another thread of the process is using it, so the loop never waits for that thread."""
import asyncio
import threading
import time

from sqlalchemy import text

from bot.db import Database


def test_sqlite_work_runs_on_the_event_loop_when_the_database_is_free(tmp_path):
    database = Database(f"sqlite:///{tmp_path}/call.db")

    def work(value):
        with database.session() as session:
            session.execute(text("SELECT 1"))
        return value, threading.get_ident()

    async def main():
        return threading.get_ident(), await database.call(work, "stored")

    loop_thread, (value, worker_thread) = asyncio.run(main())
    assert value == "stored" and worker_thread == loop_thread


def test_sqlite_work_goes_to_a_worker_thread_while_another_thread_holds_the_database(tmp_path):
    database = Database(f"sqlite:///{tmp_path}/call.db")
    holding, release = threading.Event(), threading.Event()

    def hold():
        with database.session() as session:
            session.execute(text("SELECT 1"))
            holding.set()
            release.wait(5)

    def work():
        with database.session() as session:
            session.execute(text("SELECT 1"))
        return threading.get_ident()

    async def main():
        holder = threading.Thread(target=hold)
        holder.start()
        holding.wait(5)
        stored = asyncio.ensure_future(database.call(work))
        await asyncio.sleep(0.05)  # had the work taken the lock on the loop, the loop would be stuck until the holder gives up
        assert not stored.done()  # waiting for the other thread, in a worker: the loop ran on
        release.set()
        worker = await stored
        holder.join()
        return threading.get_ident(), worker

    started = time.monotonic()
    loop_thread, worker_thread = asyncio.run(main())
    assert worker_thread != loop_thread
    assert time.monotonic() - started < 5


def test_work_that_fails_on_the_event_loop_raises_and_frees_the_database(tmp_path):
    database = Database(f"sqlite:///{tmp_path}/call.db")

    def fail():
        raise ValueError("boom")

    async def main():
        try:
            await database.call(fail)
        except ValueError as error:
            failed = str(error)
        return failed, await asyncio.to_thread(lambda: database._sqlite_lock.acquire(blocking=False))

    assert asyncio.run(main()) == ("boom", True)
