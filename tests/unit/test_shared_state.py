"""The shared back-ends (bot/shared.py, bot/ratelimit.py) behave alike in memory and in a real Redis (Debian's
redis-server on a free loopback port); in Redis, two app processes (two SharedState objects) share them, and a
Redis restart is survived."""
import asyncio
from pathlib import Path

import pytest

from bot.engines import start_redis
from bot.launcher import free_port
from bot.push import PushHub
from bot.shared import SharedState


@pytest.fixture(params=["memory", "redis"])
def make_state(request, redis_server):
    """Makes SharedState objects of one kind (each test closes them in its own event loop); in Redis each stands
    for another app process on the same server."""

    def make() -> SharedState:
        url = "" if request.param == "memory" else f"redis://127.0.0.1:{redis_server.port}/0"
        return SharedState(url, prefix=f"test-{request.node.name}:")

    return make


def run(coroutine):
    return asyncio.run(coroutine)


def test_rate_limiter_allows_limit_then_says_how_long_to_wait(make_state):
    async def scenario():
        state = make_state()
        limiter = state.limiter("t", 3, 10.0)
        results = [await limiter.hit("a") for _ in range(3)]
        refused = await limiter.hit("a")
        other = await limiter.hit("b")
        await state.aclose()
        return results, refused, other

    results, refused, other = run(scenario())
    assert results == [0.0, 0.0, 0.0]
    assert 9.0 < refused <= 10.0  # the oldest event leaves the window in about 10 s
    assert other == 0.0  # keys are independent


def test_rate_limiter_window_slides(make_state):
    async def scenario():
        state = make_state()
        limiter = state.limiter("slide", 2, 0.3)
        first = [await limiter.hit("k") for _ in range(3)]
        await asyncio.sleep(0.35)
        later = await limiter.hit("k")
        await state.aclose()
        return first, later

    first, later = run(scenario())
    assert first[:2] == [0.0, 0.0] and first[2] > 0
    assert later == 0.0


def test_redis_rate_limits_are_shared_by_processes(redis_server):
    async def scenario():
        url = f"redis://127.0.0.1:{redis_server.port}/0"
        one, two = SharedState(url, prefix="shared-rate:"), SharedState(url, prefix="shared-rate:")
        a, b = one.limiter("x", 2, 10.0), two.limiter("x", 2, 10.0)
        hits = [await a.hit("ip"), await b.hit("ip"), await a.hit("ip"), await b.hit("ip")]
        await one.aclose()
        await two.aclose()
        return hits

    hits = run(scenario())
    assert hits[:2] == [0.0, 0.0] and hits[2] > 0 and hits[3] > 0


def test_marks_set_once_and_expire(make_state):
    async def scenario():
        state = make_state()
        first = await state.marks.put_new("m", "one", 0.3)
        second = await state.marks.put_new("m", "two", 0.3)
        value = await state.marks.get("m")
        await asyncio.sleep(0.4)
        gone = await state.marks.get("m")
        again = await state.marks.put_new("m", "three", 5)
        await state.aclose()
        return first, second, value, gone, again

    assert run(scenario()) == (True, False, "one", None, True)


def test_bus_delivers_published_notices(make_state):
    async def scenario():
        publisher, subscriber = make_state(), make_state()
        received = []

        async def handler(message: str) -> None:
            received.append(message)

        await subscriber.bus.subscribe("chan", handler)
        if not subscriber.shared_between_processes:
            publisher = subscriber  # in memory, only the same process hears its notices
        await publisher.bus.publish("chan", "hello")
        for _ in range(50):
            if received:
                break
            await asyncio.sleep(0.02)
        await publisher.aclose()
        await subscriber.aclose()
        return received

    assert run(scenario()) == ["hello"]


def test_token_storage_and_lock(make_state):
    state = make_state()
    storage = state.token_storage()
    storage.set("wx_access_token", "TOKEN-1", 60)
    assert storage.get("wx_access_token") == "TOKEN-1"
    with state.token_lock("wechat-token:wx"):
        pass
    if state.shared_between_processes:  # another process sees the same token
        other = SharedState(state.redis_url, prefix=state.prefix)
        assert other.token_storage().get("wx_access_token") == "TOKEN-1"
        run(other.aclose())
    run(state.aclose())


class _Database:
    """PushHub needs a database only for push(); notify() does not touch it."""


def test_a_notice_wakes_the_connection_held_by_another_process(redis_server):
    async def scenario():
        url = f"redis://127.0.0.1:{redis_server.port}/0"
        holding = PushHub(_Database(), SharedState(url, prefix="push-test:"))
        sending = PushHub(_Database(), SharedState(url, prefix="push-test:"))
        await holding.start()
        await sending.start()
        woken = asyncio.Event()

        async def listener() -> None:
            woken.set()

        holding.listen("conv-1", listener)
        await sending.notify("conv-1")
        await asyncio.wait_for(woken.wait(), 5)
        for hub in (holding, sending):
            await hub.shared.aclose()

    run(scenario())


def test_redis_restart_is_survived(tmp_path):
    """Down: limits let citizens through, marks do not block, a publish is dropped; back: subscribers hear again."""
    port = free_port()
    folder = Path(tmp_path)
    engine = start_redis(folder, port)

    async def scenario():
        nonlocal engine
        url = f"redis://127.0.0.1:{port}/0"
        publisher, subscriber = SharedState(url), SharedState(url)
        received = []

        async def handler(message: str) -> None:
            received.append(message)

        await subscriber.bus.subscribe("chan", handler)
        engine.stop()
        limiter = publisher.limiter("down", 1, 10.0)
        down = (await limiter.hit("k"), await limiter.hit("k"), await publisher.marks.put_new("m", "v", 5),
                await publisher.marks.get("m"))
        await publisher.bus.publish("chan", "lost")
        engine = start_redis(folder, port)
        for _ in range(100):  # the subscriber reconnects within a few seconds
            await publisher.bus.publish("chan", "back")
            if "back" in received:
                break
            await asyncio.sleep(0.1)
        await publisher.aclose()
        await subscriber.aclose()
        return down, received

    try:
        down, received = run(scenario())
    finally:
        engine.stop()
    assert down == (0.0, 0.0, True, None)
    assert "back" in received
