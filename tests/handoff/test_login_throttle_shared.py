"""The console's back-off after wrong passwords behaves alike in memory and in a real Redis, and in Redis two app
processes share it (bot/handoff/login_throttle.py)."""
import pytest

from bot.handoff.login_throttle import LoginThrottle, RedisLoginThrottle
from bot.shared import SharedState

IP, OTHER_IP = "203.0.113.9", "198.51.100.1"


@pytest.fixture(params=["memory", "redis"])
def make_throttle(request, redis_server):
    clock = [1000.0]
    state = SharedState(f"redis://127.0.0.1:{redis_server.port}/0") if request.param == "redis" else None

    def make():
        if state is None:
            return LoginThrottle(free_failures=3, max_delay_seconds=600, clock=lambda: clock[0])
        return RedisLoginThrottle(state.sync_client, f"{request.node.name}:", 3, 600, clock=lambda: clock[0])

    yield make, clock
    if state is not None:
        state.sync_client.close()


def test_back_off_grows_per_name_and_address_and_an_unlock_clears_it(make_throttle):
    make, clock = make_throttle
    throttle = make()
    for _ in range(3):
        assert throttle.wait("li", IP) == 0
        throttle.failed("li", IP)
    assert throttle.wait("li", IP) == 30
    assert throttle.wait("li", OTHER_IP) == 0 and throttle.wait("wang", IP) == 0
    assert throttle.blocked("li") and not throttle.blocked("wang")
    clock[0] += 31
    throttle.failed("LI ", IP)
    assert throttle.wait("li", IP) == 60
    throttle.clear("li")
    assert throttle.wait("li", IP) == 0 and not throttle.blocked("li")
    throttle.failed("ghost", IP)
    throttle.succeeded("ghost", IP)
    assert throttle.wait("ghost", IP) == 0


def test_redis_back_off_is_shared_by_processes(make_throttle, request):
    make, _ = make_throttle
    one, two = make(), make()
    if isinstance(one, LoginThrottle):
        pytest.skip("in memory each process counts on its own")
    for _ in range(3):
        one.failed("zhao", IP)
    assert two.wait("zhao", IP) == 30 and two.blocked("zhao")
    two.clear("zhao")
    assert one.wait("zhao", IP) == 0


def test_redis_unreachable_holds_nobody_back():
    state = SharedState("redis://127.0.0.1:1/0")
    throttle = RedisLoginThrottle(state.sync_client, "down:", 1, 600)
    throttle.failed("li", IP)
    assert throttle.wait("li", IP) == 0 and not throttle.blocked("li")
    state.sync_client.close()
