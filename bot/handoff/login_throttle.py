"""Back-off after wrong console passwords, per account name and client address.

Keyed on the name as typed, whether or not such an account exists, so the answers for unknown names and for real
accounts are the same, and an attacker at one address cannot lock the operator out at another: after
CONSOLE_MAX_FAILED_LOGINS free failures from one address for one name, that pair waits 30 s, then 1, 2, 4 ...
minutes, at most CONSOLE_LOCKOUT_MINUTES, after each further failure. A success clears the pair; an admin's
"unlock" clears every address of a name. Kept in process memory (`LoginThrottle`), or in Redis when several app
processes share it (`RedisLoginThrottle`, REDIS_URL: bot/shared.py), like the rate limits (bot/ratelimit.py); while
Redis is unreachable nobody is held back (with a warning in the log).
"""
from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis

FIRST_DELAY = 30.0  # seconds
MAX_ENTRIES = 100_000
logger = logging.getLogger(__name__)


@dataclass
class _Failures:
    count: int
    last: float


class _BackOff:
    def __init__(self, free_failures: int, max_delay_seconds: float, clock: Callable[[], float]):
        self.free, self.max_delay, self.clock = free_failures, max_delay_seconds, clock

    @staticmethod
    def _key(username: str, ip: str) -> tuple[str, str]:
        return (username or "").strip().lower()[:64], ip

    def _delay(self, count: int) -> float:
        if count < self.free:
            return 0.0
        return min(self.max_delay, FIRST_DELAY * 2.0 ** (count - self.free))

    def _next(self, entry: _Failures | None, now: float) -> _Failures:
        """The failures after one more at `now` (a long quiet starts the count again)."""
        entry = entry or _Failures(0, 0.0)
        count = 0 if entry.count and now - entry.last > 2 * self.max_delay else entry.count
        return _Failures(count + 1, now)


class LoginThrottle(_BackOff):
    """In this process's memory."""

    def __init__(self, free_failures: int, max_delay_seconds: float, clock: Callable[[], float] = time.monotonic):
        super().__init__(free_failures, max_delay_seconds, clock)
        self._entries: OrderedDict[tuple[str, str], _Failures] = OrderedDict()

    def wait(self, username: str, ip: str) -> float:
        """Seconds before this name may be tried again from this address (0: now)."""
        entry = self._entries.get(self._key(username, ip))
        if entry is None:
            return 0.0
        return max(0.0, entry.last + self._delay(entry.count) - self.clock())

    def failed(self, username: str, ip: str) -> None:
        key = self._key(username, ip)
        self._entries[key] = self._next(self._entries.pop(key, None), self.clock())
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)

    def succeeded(self, username: str, ip: str) -> None:
        self._entries.pop(self._key(username, ip), None)

    def blocked(self, username: str) -> bool:
        """Whether some address must currently wait before trying this name (shown to admins as locked)."""
        name = self._key(username, "")[0]
        return any(key[0] == name and self.wait(*key) > 0 for key in list(self._entries))

    def clear(self, username: str) -> None:
        """An admin's unlock: every address may try this name again."""
        name = self._key(username, "")[0]
        for key in [k for k in self._entries if k[0] == name]:
            del self._entries[key]


class RedisLoginThrottle(_BackOff):
    """In Redis (one hash per name and address, expiring after a long quiet), shared by every app process."""

    def __init__(self, client: redis.Redis, prefix: str, free_failures: int, max_delay_seconds: float, clock: Callable[[], float] = time.time):
        super().__init__(free_failures, max_delay_seconds, clock)
        self.client, self.prefix = client, prefix

    def _redis_key(self, key: tuple[str, str]) -> str:
        return f"{self.prefix}{key[0]}|{key[1]}"

    def _pattern(self, username: str) -> str:
        literal = self.prefix + self._key(username, "")[0]
        return "".join("\\" + c if c in "*?[]\\" else c for c in literal) + "|*"

    def _read(self, redis_key: str) -> _Failures | None:
        found = self.client.hgetall(redis_key)
        if not found:
            return None
        return _Failures(int(found[b"count"]), float(found[b"last"]))

    def wait(self, username: str, ip: str) -> float:
        """Seconds before this name may be tried again from this address (0: now)."""
        try:
            entry = self._read(self._redis_key(self._key(username, ip)))
        except Exception as exc:  # noqa: BLE001  (fail open: see the module docstring)
            logger.warning("login back-off not checked (Redis unreachable?): %r", exc)
            return 0.0
        return 0.0 if entry is None else max(0.0, entry.last + self._delay(entry.count) - self.clock())

    def failed(self, username: str, ip: str) -> None:
        redis_key = self._redis_key(self._key(username, ip))
        try:
            entry = self._next(self._read(redis_key), self.clock())
            with self.client.pipeline() as pipe:
                pipe.hset(redis_key, mapping={"count": entry.count, "last": entry.last})
                pipe.expire(redis_key, int(2 * self.max_delay + FIRST_DELAY))
                pipe.execute()
        except Exception as exc:  # noqa: BLE001
            logger.warning("login failure not counted (Redis unreachable?): %r", exc)

    def succeeded(self, username: str, ip: str) -> None:
        try:
            self.client.delete(self._redis_key(self._key(username, ip)))
        except Exception as exc:  # noqa: BLE001
            logger.warning("login back-off not cleared (Redis unreachable?): %r", exc)

    def blocked(self, username: str) -> bool:
        """Whether some address must currently wait before trying this name (shown to admins as locked)."""
        try:
            for redis_key in self.client.scan_iter(match=self._pattern(username), count=500):
                entry = self._read(redis_key)
                if entry is not None and entry.last + self._delay(entry.count) > self.clock():
                    return True
        except Exception as exc:  # noqa: BLE001
            logger.warning("login back-off not read (Redis unreachable?): %r", exc)
        return False

    def clear(self, username: str) -> None:
        """An admin's unlock: every address may try this name again."""
        keys = list(self.client.scan_iter(match=self._pattern(username), count=500))
        if keys:
            self.client.delete(*keys)
