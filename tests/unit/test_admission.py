"""Overload: a bounded line in front of Rasa (bot/conversations/admission.py) answers "busy" at once instead of
letting a burst leave a backlog, keeps every message, and lets the next citizens through as soon as it drains."""
import asyncio
import time

import httpx
import pytest
from sqlalchemy import select

from bot.conversations.admission import Busy, TurnGate
from bot.conversations.models import Message
from bot.conversations.service import ConversationService
from bot.db import Database
from bot.messages import InboundMessage, Reply
from bot.rasa_client import RasaClient
from bot.texts import BUSY


async def hold(gate: TurnGate, seconds: float, log: list, name: str):
    try:
        async with gate.turn():
            log.append(("in", name))
            await asyncio.sleep(seconds)
    except Busy:
        log.append(("busy", name))


def test_gate_serves_in_order_refuses_a_full_line_and_a_long_wait():
    async def scenario():
        gate, log = TurnGate(in_flight=1, queue_limit=2, max_wait=0.25), []
        tasks = [asyncio.create_task(hold(gate, 0.1, log, "a"))]
        await asyncio.sleep(0)
        tasks += [asyncio.create_task(hold(gate, 0.1, log, n)) for n in ("b", "c", "d")]
        await asyncio.gather(*tasks)
        return gate, log

    gate, log = asyncio.run(scenario())
    # a runs; b and c wait in line (in order); d finds the line full; c waited 0.2 s < 0.25 s
    assert log == [("in", "a"), ("busy", "d"), ("in", "b"), ("in", "c")]
    assert gate.running == 0 and gate.waiting == 0 and gate.refused == 1


def test_gate_refuses_a_turn_that_would_wait_too_long_and_frees_every_place():
    async def scenario():
        gate, log = TurnGate(in_flight=1, queue_limit=10, max_wait=0.1), []
        first = asyncio.create_task(hold(gate, 0.3, log, "slow"))
        await asyncio.sleep(0)
        started = time.perf_counter()
        await hold(gate, 0.0, log, "late")
        waited = time.perf_counter() - started
        await first
        await hold(gate, 0.0, log, "after")  # the place of both is free again
        return gate, log, waited

    gate, log, waited = asyncio.run(scenario())
    assert log == [("in", "slow"), ("busy", "late"), ("in", "after")]
    assert 0.09 <= waited < 0.25
    assert gate.running == 0 and gate.waiting == 0


def test_a_cancelled_waiter_leaves_no_place_taken():
    async def scenario():
        gate, log = TurnGate(in_flight=1, queue_limit=10, max_wait=5), []
        first = asyncio.create_task(hold(gate, 0.05, log, "a"))
        await asyncio.sleep(0)
        gone = asyncio.create_task(hold(gate, 0.0, log, "gone"))
        await asyncio.sleep(0.01)
        gone.cancel()  # the client went away while its turn waited
        with pytest.raises(asyncio.CancelledError):
            await gone
        await first
        await hold(gate, 0.0, log, "next")
        return gate, log

    gate, log = asyncio.run(scenario())
    assert log == [("in", "a"), ("in", "next")]
    assert gate.running == 0 and gate.waiting == 0


def test_a_gate_of_zero_is_off():
    async def scenario():
        gate, log = TurnGate(in_flight=0, queue_limit=0, max_wait=0.01), []
        await asyncio.gather(*(hold(gate, 0.05, log, str(n)) for n in range(20)))
        return log

    assert [kind for kind, _ in asyncio.run(scenario())] == ["in"] * 20


def test_a_burst_gets_busy_replies_at_once_keeps_every_message_and_the_next_citizen_is_answered(tmp_path):
    """20 citizens at once against a Rasa that answers one turn at a time in 0.1 s: with the line, those that cannot
    be answered within the wait are told at once and the burst is over in a fraction of the time it takes without it
    (every turn through Rasa, one after the other); after it a new citizen is answered at once."""
    sent = []

    async def scenario(gate: TurnGate, name: str, refused: int = 0):
        database = Database(f"sqlite:///{tmp_path / name}")
        database.migrate()
        one_at_a_time = asyncio.Lock()  # Rasa works through its turns one by one
        finished, all_arrived = [0], asyncio.Event()

        async def rasa(request: httpx.Request) -> httpx.Response:
            sent.append(name)
            async with one_at_a_time:
                if refused:  # the first turn lasts until the whole burst has reached the line (on a busy machine
                    await asyncio.wait_for(all_arrived.wait(), 10)  # storing 20 messages can take longer than a turn)
                await asyncio.sleep(0.1)
            return httpx.Response(200, json=[{"recipient_id": "x", "text": "这是答复"}])

        service = ConversationService(database, RasaClient("http://rasa.test", transport=httpx.MockTransport(rasa)))
        service.gate = gate

        async def one(n: int) -> tuple[str, list[Reply]]:
            try:
                return await service.handle(InboundMessage(channel="web", sender=f"c{n}", text="身份证怎么补办"))
            finally:
                finished[0] += 1
                if finished[0] >= refused:
                    all_arrived.set()

        started = time.perf_counter()
        burst = await asyncio.gather(*(one(n) for n in range(20)))
        burst_seconds = time.perf_counter() - started
        _, after = await service.handle(InboundMessage(channel="web", sender="next", text="护照怎么办"))
        return database, burst, burst_seconds, after

    database, burst, with_line, after = asyncio.run(scenario(TurnGate(in_flight=1, queue_limit=2, max_wait=5), "line.db", 17))
    _, unbounded, without_line, _ = asyncio.run(scenario(TurnGate(in_flight=0, queue_limit=0, max_wait=5), "open.db"))
    texts = [replies[0].text for _, replies in burst]
    answered, busy = texts.count("这是答复"), texts.count(BUSY)
    assert (answered, busy) == (3, 17)  # one in flight and two in line; the rest are told at once
    assert all(replies[0].action == "busy" for _, replies in burst if replies[0].text == BUSY)
    assert [replies[0].text for _, replies in unbounded] == ["这是答复"] * 20 and without_line >= 2.0
    assert with_line < without_line / 2, (with_line, without_line)
    assert sent.count("line.db") == answered + 1  # a refused turn never reaches Rasa (+1: the citizen after the burst)
    assert after[0].text == "这是答复"
    with database.session() as session:
        inbound = session.scalars(select(Message).where(Message.direction == "in")).all()
        assert len(inbound) == 21  # every message is kept, with what happened to it
        assert [m.status for m in inbound].count("busy") == busy
        assert len(session.scalars(select(Message).where(Message.direction == "out", Message.text == BUSY)).all()) == busy


def test_busy_over_the_json_api_is_a_503_with_retry_after(tmp_path):
    from fastapi.testclient import TestClient

    from bot.app import create_app
    from bot.settings import Settings

    async def rasa(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/status":
            return httpx.Response(200, json={"model_file": "current.tar.gz"})
        await asyncio.sleep(0.5)
        return httpx.Response(200, json=[{"recipient_id": "x", "text": "这是答复"}])

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'app.db'}", rasa_concurrency=1, turn_queue_limit=0)
    app = create_app(settings, rasa=RasaClient("http://rasa.test", transport=httpx.MockTransport(rasa)))
    with TestClient(app) as client:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(3) as pool:
            responses = list(pool.map(lambda n: client.post("/api/chat", json={"sender": f"s{n}", "text": "问个事"}), range(3)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 503, 503]
    refused = [r for r in responses if r.status_code == 503]
    assert all(r.headers["retry-after"] == "5" and r.json()["replies"][0]["text"] == BUSY for r in refused)
