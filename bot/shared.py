"""State the app's processes share, behind one small interface per concern, each with two implementations:
in this process's memory (the embedded default: one app process, no Redis) and in Redis (REDIS_URL: several app
processes behind a load balancer).

- `Bus`: publish/subscribe of short notices between app processes (a push or an operator message wakes the web
  chat connection of the citizen, in whichever process holds it: bot/push.py).
- `RateLimiter` (bot/ratelimit.py): sliding-window counters.
- `Marks`: short-lived values with set-if-absent (WeChat's retries of a message that another
  process is answering: channels/wechat.py).
- `token_storage()` / `token_lock()`: where wechatpy keeps the WeChat access token, and one fetch at a time.
- `login_throttle()`: the console's back-off after wrong passwords (bot/handoff/login_throttle.py).

Everything that must not be lost stays in the database; what is here is either a wake-up (the message itself is
in the log) or short-lived bookkeeping. While Redis is unreachable a publish is dropped with a warning (clients
catch up from the log at their next sync) and the subscriber reconnects and subscribes again.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from bot.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter

if TYPE_CHECKING:
    import redis
    import redis.asyncio as aioredis
    from wechatpy.session import SessionStorage

    from bot.handoff.login_throttle import LoginThrottle, RedisLoginThrottle

logger = logging.getLogger(__name__)

Handler = Callable[[str], Awaitable[None]]


# --- publish/subscribe -----------------------------------------------------------------------------

class Bus(ABC):
    """Notices between app processes. `subscribe` registers this process's one handler for a channel."""

    @abstractmethod
    async def publish(self, channel: str, message: str) -> None: ...

    @abstractmethod
    async def subscribe(self, channel: str, handler: Handler) -> None: ...

    async def aclose(self) -> None:  # noqa: B027  (nothing to close in memory)
        pass


class MemoryBus(Bus):
    """One process: a publish calls the handlers of this process."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}

    async def publish(self, channel: str, message: str) -> None:
        for handler in list(self._handlers.get(channel, ())):
            try:
                await handler(message)
            except Exception:  # noqa: BLE001  (one failing handler does not stop the publisher)
                logger.exception("bus handler for %s failed", channel)

    async def subscribe(self, channel: str, handler: Handler) -> None:
        self._handlers.setdefault(channel, []).append(handler)


class RedisBus(Bus):
    """Redis pub/sub. One listening task per process; it reconnects (and subscribes again) after Redis restarts."""

    def __init__(self, client: aioredis.Redis, prefix: str = "", retry_seconds: float = 0.5):
        self.client, self.prefix, self.retry_seconds = client, prefix, retry_seconds  # Redis channel = prefix + channel
        self._handlers: dict[str, list[Handler]] = {}
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def publish(self, channel: str, message: str) -> None:
        try:
            await self.client.publish(self.prefix + channel, message)
        except Exception as exc:  # noqa: BLE001  (a wake-up: clients catch up from the log)
            logger.warning("publish on %s failed (Redis unreachable?): %r", channel, exc)

    async def subscribe(self, channel: str, handler: Handler) -> None:
        self._handlers.setdefault(channel, []).append(handler)
        if self._task is None:
            self._task = asyncio.create_task(self._listen())
        else:  # a channel added later: start again with every channel
            self._subscribed.clear()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = asyncio.create_task(self._listen())
        with contextlib.suppress(asyncio.TimeoutError):  # listening before the first publish that should reach us
            await asyncio.wait_for(self._subscribed.wait(), 5.0)

    async def _listen(self) -> None:
        while True:
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*(self.prefix + channel for channel in self._handlers))
                self._subscribed.set()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    channel, data = _text(message["channel"]).removeprefix(self.prefix), _text(message["data"])
                    for handler in list(self._handlers.get(channel, ())):
                        try:
                            await handler(data)
                        except Exception:  # noqa: BLE001
                            logger.exception("bus handler for %s failed", channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001  (Redis restarted or unreachable: subscribe again)
                self._subscribed.clear()
                logger.warning("Redis subscription lost (%r); subscribing again", exc)
                await asyncio.sleep(self.retry_seconds)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis leaves PubSub.aclose unannotated

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


# --- short-lived marks -----------------------------------------------------------------------------

class Marks(ABC):
    """Short-lived string values by key, each with its own time to live (seconds)."""

    @abstractmethod
    async def put_new(self, key: str, value: str, ttl: float) -> bool:
        """Set the value only if the key has none; whether it was set."""

    @abstractmethod
    async def get(self, key: str) -> str | None: ...


class MemoryMarks(Marks):
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._values: dict[str, tuple[str, float]] = {}

    def _current(self, key: str) -> str | None:
        found = self._values.get(key)
        if found is None:
            return None
        if found[1] <= self.clock():
            del self._values[key]
            return None
        return found[0]

    async def put_new(self, key: str, value: str, ttl: float) -> bool:
        if len(self._values) > 10_000:  # forget expired marks now and then
            for stale in [k for k, (_v, until) in self._values.items() if until <= self.clock()]:
                del self._values[stale]
        if self._current(key) is not None:
            return False
        self._values[key] = (value, self.clock() + ttl)
        return True

    async def get(self, key: str) -> str | None:
        return self._current(key)


class RedisMarks(Marks):
    """While Redis is unreachable: no mark is found, and setting one succeeds (the caller goes on as if alone; at
    worst a reply is sent twice rather than never)."""

    def __init__(self, client: aioredis.Redis, prefix: str = "marks:"):
        self.client, self.prefix = client, prefix

    async def put_new(self, key: str, value: str, ttl: float) -> bool:
        try:
            return bool(await self.client.set(self.prefix + key, value, px=int(ttl * 1000), nx=True))
        except Exception as exc:  # noqa: BLE001
            logger.warning("mark %s not shared (Redis unreachable?): %r", key.split(":")[0], exc)
            return True

    async def get(self, key: str) -> str | None:
        try:
            value = await self.client.get(self.prefix + key)
        except Exception as exc:  # noqa: BLE001
            logger.warning("mark %s not read (Redis unreachable?): %r", key.split(":")[0], exc)
            return None
        return None if value is None else _text(value)


# --- the set of shared back-ends -------------------------------------------------------------------

class SharedState:
    """The shared back-ends of one app process: in memory (`redis_url` empty) or in Redis."""

    def __init__(self, redis_url: str = "", prefix: str = "jj12345:"):
        self.redis_url, self.prefix = redis_url, prefix
        self.process_id = uuid.uuid4().hex[:12]  # tells this process's own notices from the others'
        if redis_url:
            import redis
            import redis.asyncio as aioredis

            # Short timeouts: a Redis restart must not hold a citizen's turn for long.
            options: dict[str, Any] = {"socket_timeout": 2.0, "socket_connect_timeout": 2.0, "health_check_interval": 10}
            self.client: aioredis.Redis | None = aioredis.Redis.from_url(redis_url, **options)
            self.sync_client: redis.Redis | None = redis.Redis.from_url(redis_url, **options)  # for worker threads: WeChat token, login back-off
            self.bus: Bus = RedisBus(self.client, prefix + "bus:")
            self.marks: Marks = RedisMarks(self.client, prefix + "marks:")
        else:
            self.client = self.sync_client = None
            self.bus = MemoryBus()
            self.marks = MemoryMarks()
        self._token_lock = threading.Lock()
        self._token_storage: SessionStorage | None = None

    @property
    def shared_between_processes(self) -> bool:
        return self.client is not None

    def limiter(self, name: str, limit: int, window: float) -> RateLimiter:
        """A sliding-window limiter; its counts are shared by every process using the same Redis and name."""
        if self.client is None:
            return MemoryRateLimiter(limit, window)
        return RedisRateLimiter(self.client, f"{self.prefix}rate:{name}:", limit, window)

    def login_throttle(self, free_failures: int, max_delay_seconds: float) -> LoginThrottle | RedisLoginThrottle:
        """The console's back-off after wrong passwords (bot/handoff/login_throttle.py), shared when in Redis."""
        from bot.handoff.login_throttle import LoginThrottle, RedisLoginThrottle

        if self.sync_client is None:
            return LoginThrottle(free_failures, max_delay_seconds)
        return RedisLoginThrottle(self.sync_client, f"{self.prefix}login:", free_failures, max_delay_seconds)

    def token_storage(self) -> SessionStorage:
        """wechatpy's session storage (the WeChat access token), shared by every process when in Redis."""
        from wechatpy.session.memorystorage import MemoryStorage
        from wechatpy.session.redisstorage import RedisStorage

        if self._token_storage is None:
            self._token_storage = (MemoryStorage() if self.sync_client is None
                                   else RedisStorage(self.sync_client, prefix=self.prefix + "wechat"))
        return self._token_storage

    def token_lock(self, name: str) -> AbstractContextManager[Any]:
        """A lock held while a token is fetched (a new WeChat token replaces the old one): one fetch at a time,
        in this process or, in Redis, in all of them."""
        if self.sync_client is None:
            return self._token_lock
        lock: AbstractContextManager[Any] = self.sync_client.lock(f"{self.prefix}lock:{name}", timeout=30, blocking_timeout=30)
        return lock

    async def aclose(self) -> None:
        await self.bus.aclose()
        if self.client is not None:
            await self.client.aclose()
        if self.sync_client is not None:  # set with the client
            self.sync_client.close()
