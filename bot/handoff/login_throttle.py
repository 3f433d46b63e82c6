"""Back-off after wrong console passwords, per account name and client address.

Keyed on the name as typed, whether or not such an account exists, so the answers for unknown names and for real
accounts are the same, and an attacker at one address cannot lock the operator out at another: after
CONSOLE_MAX_FAILED_LOGINS free failures from one address for one name, that pair waits 30 s, then 1, 2, 4 ...
minutes, at most CONSOLE_LOCKOUT_MINUTES, after each further failure. A success clears the pair; an admin's
"unlock" clears every address of a name. Kept in process memory, like the rate limits (bot/ratelimit.py).
"""
from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

FIRST_DELAY = 30.0  # seconds
MAX_ENTRIES = 100_000


@dataclass
class _Failures:
    count: int
    last: float


class LoginThrottle:
    def __init__(self, free_failures: int, max_delay_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.free, self.max_delay, self.clock = free_failures, max_delay_seconds, clock
        self._entries: OrderedDict[tuple[str, str], _Failures] = OrderedDict()

    @staticmethod
    def _key(username: str, ip: str) -> tuple[str, str]:
        return (username or "").strip().lower()[:64], ip

    def _delay(self, count: int) -> float:
        if count < self.free:
            return 0.0
        return min(self.max_delay, FIRST_DELAY * 2 ** (count - self.free))

    def wait(self, username: str, ip: str) -> float:
        """Seconds before this name may be tried again from this address (0: now)."""
        entry = self._entries.get(self._key(username, ip))
        if entry is None:
            return 0.0
        return max(0.0, entry.last + self._delay(entry.count) - self.clock())

    def failed(self, username: str, ip: str) -> None:
        key = self._key(username, ip)
        entry = self._entries.pop(key, None) or _Failures(0, 0.0)
        now = self.clock()
        if entry.count and now - entry.last > 2 * self.max_delay:  # long quiet: start again
            entry.count = 0
        entry.count, entry.last = entry.count + 1, now
        self._entries[key] = entry
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
