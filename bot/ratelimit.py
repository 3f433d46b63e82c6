"""Rate limits: at most `limit` events per `window` seconds for each key (a sliding window).

One interface, two implementations (bot/shared.py picks one):
- `MemoryRateLimiter` counts in this process's memory (the embedded default): counts reset when the app restarts,
  and with several app processes each would count on its own.
- `RedisRateLimiter` counts in Redis (REDIS_URL), so every app process shares the counts, by Redis's clock.
  While Redis is unreachable it allows the event (fails open, with a warning): a rate limit stops runaway
  scripts, it must not stop citizens.
"""
from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis.asyncio as aioredis

logger = logging.getLogger(__name__)


class RateLimiter(ABC):
    """`await hit(key)` records an event and says whether it is allowed: 0 when allowed (and counted), otherwise
    the seconds to wait (not counted)."""

    def __init__(self, limit: int, window: float):
        if limit < 1 or window <= 0:
            raise ValueError(f"rate limit needs limit >= 1 and window > 0, got limit={limit}, window={window}")
        self.limit, self.window = limit, window

    @abstractmethod
    async def hit(self, key: Hashable) -> float: ...


class MemoryRateLimiter(RateLimiter):
    """Sliding-window counter per key in this process."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic):
        super().__init__(limit, window)
        self.clock = clock
        self._events: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()
        self._calls = 0

    async def hit(self, key: Hashable) -> float:
        return self.hit_now(key)

    def hit_now(self, key: Hashable) -> float:
        """`hit` for synchronous callers (this process only)."""
        now = self.clock()
        with self._lock:
            self._calls += 1
            if self._calls % 1000 == 0:
                self._forget_idle(now)
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                return max(events[0] + self.window - now, 0.001)
            events.append(now)
            return 0.0

    def _forget_idle(self, now: float) -> None:
        """Drop keys with no event inside the window, so memory stays bounded by active keys."""
        idle = [key for key, events in self._events.items() if not events or events[-1] <= now - self.window]
        for key in idle:
            del self._events[key]


# One sorted set per key: members are events, scores their times (ms, Redis's clock); atomic as a script.
_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(tonumber(oldest[2]) + window - now, 1)
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


class RedisRateLimiter(RateLimiter):
    """Sliding-window counter per key in Redis, shared by every app process."""

    def __init__(self, client: aioredis.Redis, prefix: str, limit: int, window: float):
        super().__init__(limit, window)
        self.prefix = prefix
        self._script = client.register_script(_HIT)

    async def hit(self, key: Hashable) -> float:
        try:
            wait_ms = await self._script(keys=[f"{self.prefix}{key}"], args=[self.limit, int(self.window * 1000), uuid.uuid4().hex])
        except Exception as exc:  # noqa: BLE001  (fail open: see the module docstring)
            logger.warning("rate limit not checked (Redis unreachable?): %r", exc)
            return 0.0
        return int(wait_ms) / 1000


def wait_seconds(retry_after: float) -> int:
    """Whole seconds to tell a person (at least 1)."""
    return max(1, math.ceil(retry_after))
