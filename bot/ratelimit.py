"""In-process rate limits: at most `limit` events per `window` seconds for each key (a sliding window).

The counts live in this process's memory: they reset when the app restarts, and with several app
replicas each replica counts on its own (the effective limit is `limit` x replicas). That is enough
to stop a runaway script or a stuck retry loop; a shared store (Redis) can replace it when scaled out.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable


class RateLimiter:
    """Sliding-window counter per key. `hit(key)` records an event and says whether it is allowed."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic):
        if limit < 1 or window <= 0:
            raise ValueError(f"rate limit needs limit >= 1 and window > 0, got limit={limit}, window={window}")
        self.limit, self.window, self.clock = limit, window, clock
        self._events: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()
        self._calls = 0

    def hit(self, key: Hashable) -> float:
        """0 when the event is allowed (and counted); otherwise the seconds to wait (not counted)."""
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


def wait_seconds(retry_after: float) -> int:
    """Whole seconds to tell a person (at least 1)."""
    return max(1, math.ceil(retry_after))
