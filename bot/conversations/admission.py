"""Admission of turns to Rasa under overload: a bounded number in flight, a bounded queue, a bounded wait.

Without it, a burst larger than Rasa can answer queues every turn in front of Rasa: turns whose citizens
have long given up are still answered, one after the other, and the citizens who write after the burst wait
behind them. With it, at most `in_flight` turns per Rasa process are sent at a time; the others wait in line
(first come, first served) for at most `max_wait` seconds, and at most `queue_limit` of them: a turn that
would wait longer, or find the line full, is answered at once with a polite "busy, please send it again"
(bot/texts.py BUSY) and its message is kept. The backlog after a burst therefore drains within `max_wait`.

Hand-written rather than asyncio.Semaphore with asyncio.wait_for: on Python 3.10 a timeout racing a grant can
lose the grant (the permit is never released), and a semaphore cannot say how long its line is.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator


class Busy(Exception):
    """The turn was not admitted: the line was full, or it waited too long."""


class TurnGate:
    """`in_flight` <= 0 turns the gate off (every turn goes straight to Rasa, as before it existed)."""

    def __init__(self, in_flight: int, queue_limit: int, max_wait: float):
        self.limit = in_flight
        self.queue_limit = queue_limit
        self.max_wait = max_wait
        self.running = 0
        self._line: deque[asyncio.Future[None]] = deque()
        self.refused = 0  # turns answered "busy" since start (for the bench and operations)

    @property
    def waiting(self) -> int:
        return sum(1 for f in self._line if not f.done())

    def _expire(self, future: asyncio.Future[None]) -> None:
        if not future.done():
            future.set_exception(Busy(f"waited more than {self.max_wait:g} s"))

    async def _acquire(self) -> None:
        if self.running < self.limit and not self._line:
            self.running += 1
            return
        if self.waiting >= self.queue_limit:
            self.refused += 1
            raise Busy(f"{self.queue_limit} turns already waiting")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._line.append(future)
        timer = loop.call_later(self.max_wait, self._expire, future)
        try:
            await future  # set by release(): the slot is handed over, `running` unchanged
        except Busy:
            self.refused += 1
            raise
        except asyncio.CancelledError:
            if future.done() and not future.cancelled() and future.exception() is None:
                self.release()  # granted just as the caller went away: pass the slot on
            raise
        finally:
            timer.cancel()
            with contextlib.suppress(ValueError):
                self._line.remove(future)

    def release(self) -> None:
        while self._line:
            future = self._line.popleft()
            if not future.done():
                future.set_result(None)
                return
        self.running -= 1

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold a place in flight for the body; raises Busy when the turn is not admitted."""
        if self.limit <= 0:
            yield
            return
        await self._acquire()
        try:
            yield
        finally:
            self.release()
