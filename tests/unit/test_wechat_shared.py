"""WeChat's bookkeeping shared by app processes (channels/wechat.py with bot/shared.py), in memory (one process) and
in a real Redis (two processes): a retry of a message answered `success` by one process is answered `success` by the
other too and the reply is sent once; the access token is fetched once for all."""
import asyncio
import time

import pytest
from wechatpy import parse_message

from bot.messages import Reply
from bot.settings import Settings
from bot.shared import SharedState
from channels import wechat
from tests.channel_helpers import WECHAT_APP_ID, WECHAT_APP_SECRET, WECHAT_TOKEN, FakeWeChatAPI, message_xml


@pytest.fixture(scope="module")
def fake_api():
    api = FakeWeChatAPI()
    yield api
    api.close()


class SlowService:
    """The conversation service as the channel uses it, answering after a delay."""

    def __init__(self, delay: float):
        self.delay, self.handled = delay, 0

    async def offered_buttons(self, _channel, _sender):
        return []

    async def handle(self, message):
        self.handled += 1
        await asyncio.sleep(self.delay)
        return "wechat-conversation", [Reply(text=f"答：{message.text}")]


@pytest.fixture(params=["memory", "redis"])
def two_processes(request, redis_server, fake_api):
    """Two WeChat channels standing for two app processes (in memory: one process's state, shared by both)."""
    settings = Settings(wechat_enabled=True, wechat_mode="plaintext", wechat_token=WECHAT_TOKEN, wechat_app_id=WECHAT_APP_ID,
                        wechat_app_secret=WECHAT_APP_SECRET, wechat_api_base=fake_api.base)
    if request.param == "memory":
        one = SharedState()
        states = [one, one]
    else:
        url = f"redis://127.0.0.1:{redis_server.port}/0"
        states = [SharedState(url, prefix=f"{request.node.name}:"), SharedState(url, prefix=f"{request.node.name}:")]
    return [wechat.WeChatChannel(settings, database=None, shared=state) for state in states]


def test_a_retry_reaching_another_process_after_success_is_answered_success_and_sent_once(two_processes, fake_api):
    first, second = two_processes
    openid = f"oJretry{time.time_ns()}"
    message = parse_message(message_xml(openid, "text", Content="护照怎么办", MsgId=int(time.time_ns() % 10**12)))
    service = SlowService(delay=0.5)

    async def scenario():
        answered_first = await first.respond(service, message, time.monotonic() + 0.1)  # too slow: `success`, sent later
        answered_retry = await second.respond(service, message, time.monotonic() + 0.1)
        await asyncio.sleep(1.0)  # the first process sends the reply through the customer-service API
        for channel in two_processes:
            for task in list(channel._background):
                await task
        return answered_first, answered_retry

    assert asyncio.run(scenario()) == ((None, []), (None, []))
    assert service.handled == 1
    assert fake_api.wait_for(openid) == ["答：护照怎么办"]
    time.sleep(0.3)
    assert fake_api.to(openid) == ["答：护照怎么办"]  # once


def test_the_access_token_is_fetched_once_for_all_processes(two_processes, fake_api):
    first, second = two_processes
    before = fake_api.token_fetches
    assert first.api.access_token == second.api.access_token
    assert fake_api.token_fetches == before + 1
