"""`make cluster-check`: drive the production profile on loopback (bot/cluster.py) through faults and count what
citizens would notice.

Conversations are started at a steady rate through nginx, mixing the web chat (WebSocket, with a push sent to every
conversation through the internal server, so it often reaches the socket through another app process), the chat
API (/api/chat) and bookings (/api/appointments, a few slots booked by many more citizens than they have seats).
Each chat asks about an item, then follow-ups that only make sense with that context ("要多久"). Clients behave like
the real ones: a dropped connection or a request without an answer is sent again with the same client id (processed
once); a "busy" or "Rasa down" reply is sent again as a new message a little later.

During the run: one Rasa process is killed (SIGKILL) and started again, then one app process, then Redis is
restarted. Reported: inbound messages lost (never answered, or still unanswered in the database), replies delivered
twice (a message id twice on one socket, a push twice, a message answered twice in the database), cross-talk
(another conversation's message on a socket, or another conversation id from the API), bookings over capacity (in
the database), conversations that lost their context (a follow-up answered without the item asked about), and
p50/p99 of a message's answer time before, during and after each fault. The last line:
`faults: lost=0 duplicated=0 crosstalk=0 overbooked=0 context_lost=0`; the exit status is 1 when a count is not 0.

    python -m bot.cluster_check [--conversations 1000] [--seconds 180]
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import re
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiohttp
import httpx
import psycopg

from bot.cluster import Cluster
from bot.settings import ROOT

CHECK_FOLDER = ROOT / "var" / "cluster-check"
# Questions whose first answer names an item, and follow-ups answered from the `item` slot (the context).
SCRIPTS = [
    ("身份证丢了怎么补办", ["要多久", "在哪里办"]),
    ("护照怎么办", ["要多久", "要收费吗"]),
    ("开个体户要带什么材料", ["要多久", "在哪里办"]),
    ("社保卡怎么申领", ["要多久", "要收费吗"]),
]
BOOKING_ITEM = "社会保障卡申领"
ITEM = re.compile(r"^【([^】\n]{1,80})】")
NOT_AN_ANSWER = ("当前咨询的人比较多", "暂时出了点问题", "正在处理中")  # busy, Rasa down, still working: send again
ANSWER_TIMEOUT = 25.0  # seconds without an answer before a client sends the same message again
GIVE_UP = 240.0  # seconds after which a message counts as lost


def real_answer(texts: list[str]) -> bool:
    return bool(texts) and not any(marker in text for text in texts for marker in NOT_AN_ANSWER)


@dataclass
class Fault:
    name: str
    at: float = 0.0
    recovered: float = 0.0


@dataclass
class Tally:
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (sent at, seconds to the answer)
    lost: list[str] = field(default_factory=list)
    duplicated: int = 0
    duplicated_what: list[str] = field(default_factory=list)  # which message, and how it came twice
    crosstalk: int = 0
    context_lost: int = 0
    resent: int = 0
    conversations: dict[str, int] = field(default_factory=lambda: {"webchat": 0, "api": 0, "booking": 0})
    pushes_live: int = 0
    pushes: int = 0
    bookings: dict[str, int] = field(default_factory=dict)
    context_checked: int = 0  # conversations whose first answer named an item (their follow-ups are checked)
    context_lost_at: list[str] = field(default_factory=list)  # what was asked and answered, when


class Check:
    def __init__(self, cluster: Cluster, conversations: int, seconds: float, seed: int = 12345):
        self.cluster, self.total, self.seconds = cluster, conversations, seconds
        self.random = random.Random(seed)
        self.tally = Tally()
        self.faults: list[Fault] = []
        self.started = 0
        self.push_key = cluster.secrets["push_api_key"]
        self.ws_url = cluster.url.replace("http://", "ws://") + "/ws/chat"
        self.http: aiohttp.ClientSession | None = None
        self.booking_slots: list[tuple[str, str]] = []  # (date, start)

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self.http is not None, "the check is not running"
        return self.http

    # --- one message, as a client sends it ---------------------------------------------------------

    async def api_message(self, sender: str, text: str, conversation_id: list[str]) -> list[str] | None:
        """/api/chat: the answer's texts, or None when the message was lost."""
        first_sent = time.monotonic()
        client_id = uuid.uuid4().hex
        while time.monotonic() - first_sent < GIVE_UP:
            try:
                async with self.session.post(f"{self.cluster.url}/api/chat", json={"sender": sender, "text": text, "client_id": client_id},
                                          timeout=aiohttp.ClientTimeout(total=ANSWER_TIMEOUT)) as response:
                    body = await response.json(content_type=None) if response.status in (200, 503) else None
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                body = None
            if body is None:  # no answer: the same message again (processed once)
                self.tally.resent += 1
                await asyncio.sleep(1.0)
                continue
            if conversation_id and body["conversation_id"] != conversation_id[0]:
                self.tally.crosstalk += 1
            conversation_id[:1] = [body["conversation_id"]]
            texts = [r.get("text") or "" for r in body["replies"]]
            if real_answer(texts):
                self.tally.latencies.append((first_sent, time.monotonic() - first_sent))
                return texts
            self.tally.resent += 1
            if any("正在处理中" in t for t in texts):
                await asyncio.sleep(2.0)  # the first attempt is still being answered: ask for it again
            else:
                await asyncio.sleep(2.0 + self.random.random() * 2)
                client_id = uuid.uuid4().hex  # told "busy" or "down": the citizen sends it again
        return None

    # --- conversations -----------------------------------------------------------------------------

    async def talk(self, label: str, send: Callable[[str], Awaitable[list[str] | None]],
                   before_follow_ups: Callable[[], Awaitable[None]] | None = None) -> bool:
        """One scripted conversation through `send(text)` (the answer's texts, or None when lost); False when it
        stopped early (a message lost, or the context)."""
        question, follow_ups = self.random.choice(SCRIPTS)
        item: str | Literal[False] | None = None
        for k, text in enumerate([question, *follow_ups]):
            if k:
                await asyncio.sleep(1.0 + self.random.random() * 4)
            if k == 1 and before_follow_ups is not None:
                await before_follow_ups()
            texts = await send(text)
            if texts is None:
                self.tally.lost.append(f"{label} {text}")
                return False
            item = self._context(item, k, texts)
            if item is False:
                self.tally.context_lost_at.append(f"{time.strftime('%H:%M:%S')} {label}: “{text}” answered "
                                                  f"“{texts[0][:40]}” without the item asked about")
                return False
        return True

    def _context(self, item: str | Literal[False] | None, k: int, texts: list[str]) -> str | Literal[False] | None:
        """The item named by the first answer; False (and counted) when a follow-up's answer lost it."""
        if k == 0:
            found = ITEM.match(texts[0])
            self.tally.context_checked += bool(found)
            return found.group(1) if found else None
        if item and not any(f"【{item}】" in t for t in texts):
            self.tally.context_lost += 1
            return False
        return item

    async def api_conversation(self, n: int) -> None:
        self.tally.conversations["api"] += 1
        sender = f"check-{n}-{uuid.uuid4().hex[:8]}"
        conversation_id: list[str] = []
        await self.talk(f"api {sender}", lambda text: self.api_message(sender, text, conversation_id))

    async def webchat_conversation(self, n: int) -> None:
        self.tally.conversations["webchat"] += 1
        session = None
        while session is None:  # no conversation yet: nothing to lose
            try:
                async with self.session.post(f"{self.cluster.url}/api/webchat/session", timeout=aiohttp.ClientTimeout(total=30)) as response:
                    session = await response.json()
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                await asyncio.sleep(2.0)
        chat = WebChatClient(self, session["conversation_id"], session["token"])
        try:
            if await self.talk(f"webchat {chat.conversation_id}", chat.message, lambda: self.push(chat)):
                await chat.settle_pushes()
        finally:
            await chat.close()

    async def push(self, chat: WebChatClient) -> None:
        """An operator-style message into the conversation, through the internal server (either app process). The
        push API has no idempotency key: an attempt that timed out may still have been stored, so each attempt has a
        marker of its own (a retried push is a second push, not a reply delivered twice)."""
        attempts: set[str] = set()
        chat.push_groups.append(attempts)
        self.tally.pushes += 1
        for _ in range(30):
            marker = f"【核对】{chat.conversation_id}:{uuid.uuid4().hex[:8]}"
            attempts.add(marker)
            chat.pushes_expected.add(marker)
            try:
                async with self.session.post(f"{self.cluster.internal_url}/internal/push/{chat.conversation_id}",
                                          json={"text": marker, "sender": "operator"}, headers={"Authorization": f"Bearer {self.push_key}"},
                                          timeout=aiohttp.ClientTimeout(total=15)) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(1.0)

    async def booking(self, n: int) -> None:
        self.tally.conversations["booking"] += 1
        day, start = self.random.choice(self.booking_slots)
        name = "核对" + "".join("零一二三四五六七八九"[int(d)] for d in str(n))  # names have no digits
        body = {"item": BOOKING_ITEM, "date": day, "start": start, "name": name, "phone": f"139{n:08d}",
                "request_id": uuid.uuid4().hex}
        for _ in range(60):
            try:
                async with self.session.post(f"{self.cluster.url}/api/appointments", json=body, timeout=aiohttp.ClientTimeout(total=20)) as response:
                    if response.status < 500:
                        outcome = "booked" if response.status == 201 else f"refused {response.status}"
                        self.tally.bookings[outcome] = self.tally.bookings.get(outcome, 0) + 1
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(1.0)  # the same request id again: booked once
        self.tally.lost.append(f"booking {n}")

    # --- the run -----------------------------------------------------------------------------------

    async def find_booking_slots(self) -> None:
        day = dt.date.today()
        for _ in range(30):
            day += dt.timedelta(days=1)
            async with self.session.get(f"{self.cluster.url}/api/appointments/slots", params={"item": BOOKING_ITEM, "date": day.isoformat()}) as r:
                if r.status == 200:
                    slots = [s for s in await r.json() if s["seats_left"] > 0]
                    if slots:
                        self.booking_slots = [(day.isoformat(), s["start"]) for s in slots[:3]]
                        return
        raise RuntimeError(f"no bookable day for {BOOKING_ITEM} in the next 30 days")

    async def load(self, done: asyncio.Event) -> None:
        interval = self.seconds / self.total
        tasks = []
        n = 0
        while n < self.total or not done.is_set():
            n += 1
            kind = self.random.choices(["webchat", "api", "booking"], weights=[45, 40, 15])[0]
            runner = {"webchat": self.webchat_conversation, "api": self.api_conversation, "booking": self.booking}[kind]
            tasks.append(asyncio.create_task(runner(n)))
            self.started = n
            await asyncio.sleep(interval)
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):
                self.tally.lost.append(f"client failed: {result!r}")

    async def fault_schedule(self, done: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(min(30.0, self.seconds / 6))
        steps = [("kill Rasa process 1", self._kill_rasa), ("kill app process 1", self._kill_app), ("restart Redis", self._restart_redis)]
        for name, step in steps:
            fault = Fault(name, at=time.monotonic())
            self.faults.append(fault)
            print(f"  {time.strftime('%H:%M:%S')} {name} ...", flush=True)
            await loop.run_in_executor(None, step)
            fault.recovered = time.monotonic()
            print(f"  {time.strftime('%H:%M:%S')} {name}: back after {fault.recovered - fault.at:.1f} s", flush=True)
            await asyncio.sleep(min(20.0, self.seconds / 8))
        done.set()

    def _kill_rasa(self) -> None:
        self.cluster.kill_rasa(0)
        self.cluster.start_rasa(0)
        self.cluster.wait_rasa(0)

    def _kill_app(self) -> None:
        self.cluster.kill_app(0)
        self.cluster.start_app(0)
        self.cluster.wait_app(0)

    def _restart_redis(self) -> None:
        self.cluster.restart_redis()

    async def run(self) -> None:
        connector = aiohttp.TCPConnector(limit=400)
        async with aiohttp.ClientSession(connector=connector) as self.http:
            await self.find_booking_slots()
            done = asyncio.Event()
            await asyncio.gather(self.load(done), self.fault_schedule(done))

    # --- the database's view -----------------------------------------------------------------------

    def database_counts(self) -> dict[str, int]:
        url = self.cluster.database_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url) as connection:
            def one(sql: str) -> Any:
                row = connection.execute(sql).fetchone()
                assert row is not None  # an aggregate has one row
                return row[0]

            unanswered = one("SELECT count(*) FROM messages WHERE direction = 'in' AND status = 'received'")
            answered_twice = one(
                "SELECT count(*) FROM (SELECT message_id FROM turn_outcomes WHERE message_id IS NOT NULL "
                "GROUP BY message_id HAVING count(*) > 1) twice")
            overbooked = one(
                "SELECT coalesce(sum(greatest(booked - capacity, 0)), 0) FROM (SELECT s.capacity, (SELECT count(*) FROM bookings b "
                "WHERE b.group_id = s.group_id AND b.day = s.day AND b.start = s.start AND b.status = 'active') AS booked "
                "FROM slot_counters s) slots")
            seats_taken_over = one("SELECT coalesce(sum(greatest(taken - capacity, 0)), 0) FROM slot_counters")
        return {"unanswered": unanswered, "answered_twice": answered_twice, "overbooked": int(overbooked) + int(seats_taken_over)}

    # --- the report --------------------------------------------------------------------------------

    def phases(self) -> list[str]:
        lines = []
        window = min(30.0, self.seconds / 6)
        for fault in self.faults:
            spans = {"before": (fault.at - window, fault.at), "during": (fault.at, fault.recovered),
                     "after": (fault.recovered, fault.recovered + window)}
            cells = []
            for phase, (start, end) in spans.items():
                values = sorted(s for at, s in self.tally.latencies if start <= at < end)
                cells.append(f"{phase} {_quantiles(values)}")
            lines.append(f"{fault.name} ({fault.recovered - fault.at:.0f} s): " + "; ".join(cells))
        return lines


class WebChatClient:
    """One browser: a WebSocket that reconnects (asking for everything after the last message it has)."""

    def __init__(self, check: Check, conversation_id: str, token: str):
        self.check, self.conversation_id, self.token = check, conversation_id, token
        self.ws: aiohttp.ClientWebSocketResponse[bool] | None = None
        self.cursor = 0
        self.seen: set[int] = set()
        self.client_ids: set[str] = set()
        self.replies: dict[str, list[str]] = {}  # client id -> the answer's texts
        self.waiting: str | None = None
        self.pushes_expected: set[str] = set()  # every attempt's marker
        self.push_groups: list[set[str]] = []  # the markers of each push's attempts
        self.pushes_seen: dict[str, int] = {}
        self.pushes_live: set[str] = set()
        self.reader: asyncio.Task[None] | None = None
        self.updated = asyncio.Event()
        self.last_in: str | None = None  # the client id of the latest citizen message seen: replies after it answer it

    async def connect(self) -> None:
        for _ in range(120):
            try:
                self.ws = ws = await self.check.session.ws_connect(self.check.ws_url, timeout=aiohttp.ClientWSTimeout(ws_close=10),
                                                                   heartbeat=20)
                await ws.send_str(json.dumps({"type": "hello", "conversation_id": self.conversation_id, "token": self.token,
                                                   "after": self.cursor}))
                self.reader = asyncio.create_task(self.read())
                return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                await asyncio.sleep(1.0)
        raise RuntimeError(f"web chat {self.conversation_id} could not reconnect")

    @property
    def socket(self) -> aiohttp.ClientWebSocketResponse[bool]:
        assert self.ws is not None, "not connected"
        return self.ws

    async def read(self) -> None:
        async for frame in self.socket:
            if frame.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(frame.data)
            if data.get("type") != "messages":
                continue
            for message in data["messages"]:
                if message["id"] in self.seen:
                    self.check.tally.duplicated += 1
                    self.check.tally.duplicated_what.append(
                        f"message {message['id']} ({message['direction']}) of {self.conversation_id} sent twice (cursor {self.cursor})")
                    continue
                self.seen.add(message["id"])
                self.cursor = max(self.cursor, message["id"])
                text = message["text"] or ""
                if message["direction"] == "in":
                    if message.get("client_id") not in self.client_ids:
                        self.check.tally.crosstalk += 1
                    self.last_in = message.get("client_id")
                elif text.startswith("【核对】"):
                    if text not in self.pushes_expected:
                        self.check.tally.crosstalk += 1
                    self.pushes_seen[text] = self.pushes_seen.get(text, 0) + 1
                    if self.pushes_seen[text] > 1:
                        self.check.tally.duplicated += 1
                        self.check.tally.duplicated_what.append(f"push {text} stored twice (again as message {message['id']})")
                    self.pushes_live.add(text)
                elif self.last_in is not None:
                    self.replies.setdefault(self.last_in, []).append(text)
            self.updated.set()

    async def message(self, text: str) -> list[str] | None:
        first_sent = time.monotonic()
        client_id = uuid.uuid4().hex
        while time.monotonic() - first_sent < GIVE_UP:
            self.client_ids.add(client_id)
            if self.ws is None or self.ws.closed:
                await self.connect()
            sent_at = time.monotonic()
            try:
                await self.socket.send_str(json.dumps({"type": "message", "client_id": client_id, "text": text}))
            except (aiohttp.ClientError, ConnectionError):
                continue
            while time.monotonic() - sent_at < ANSWER_TIMEOUT and not self.socket.closed and client_id not in self.replies:
                self.updated.clear()
                try:
                    await asyncio.wait_for(self.updated.wait(), 1.0)
                except asyncio.TimeoutError:
                    pass
            texts = self.replies.get(client_id)
            if texts is None:  # no answer (the socket dropped, or its process died): the same message again
                self.check.tally.resent += 1
                if self.socket.closed:
                    await asyncio.sleep(0.5)
                continue
            await asyncio.sleep(0.2)  # the rest of the answer's messages, if they came in another frame
            texts = self.replies[client_id]
            if real_answer(texts):
                self.check.tally.latencies.append((first_sent, time.monotonic() - first_sent - 0.2))
                return texts
            self.check.tally.resent += 1
            if any("正在处理中" in t for t in texts):
                del self.replies[client_id]  # ask for the first attempt's answer again
                await asyncio.sleep(2.0)
            else:
                await asyncio.sleep(2.0 + self.check.random.random() * 2)
                client_id = uuid.uuid4().hex
        return None

    async def settle_pushes(self) -> None:
        """Pushes not seen live are read from the log, as a page does when it reconnects."""
        for attempts in self.push_groups:
            if attempts & self.pushes_live:
                self.check.tally.pushes_live += 1
                continue
            async with self.check.session.get(f"{self.check.cluster.url}/api/webchat/conversations/{self.conversation_id}/messages",
                                           params={"after": 0}, headers={"Authorization": f"Bearer {self.token}"}) as response:
                texts = {m["text"] for m in (await response.json()).get("messages", [])}
            if not attempts & texts:
                self.check.tally.lost.append(f"push {sorted(attempts)[0]}")

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()


def _quantiles(values: list[float]) -> str:
    if not values:
        return "p50 - p99 - (0)"
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return f"p50 {statistics.median(values) * 1000:.0f} ms p99 {p99 * 1000:.0f} ms ({len(values)})"


def run_check(conversations: int, seconds: float, folder: Path = CHECK_FOLDER) -> tuple[int, list[str]]:
    """Start a cluster on fresh data in `folder`, drive it, stop it; (exit status, report lines)."""
    shutil.rmtree(folder / "postgres", ignore_errors=True)
    shutil.rmtree(folder / "redis", ignore_errors=True)
    started = time.monotonic()
    with Cluster(folder, extra_env=CHECK_ENV) as cluster:
        print(f"cluster up in {time.monotonic() - started:.0f} s: {cluster.url}", flush=True)
        check = Check(cluster, conversations, seconds)
        began = time.monotonic()
        asyncio.run(check.run())
        counts = check.database_counts()
        ready = httpx.get(f"{cluster.url}/healthz", timeout=10).status_code == 200
    tally = check.tally
    unanswered = counts["unanswered"]
    lost = len(tally.lost) + unanswered
    duplicated = tally.duplicated + counts["answered_twice"]
    lines = [
        f"run: {sum(tally.conversations.values())} conversations in {time.monotonic() - began:.0f} s "
        f"({tally.conversations['webchat']} web chat over WebSocket, {tally.conversations['api']} /api/chat, "
        f"{tally.conversations['booking']} bookings), {len(tally.latencies)} messages answered, {tally.resent} sent again by clients, "
        f"context checked in {tally.context_checked} conversations",
        f"all messages: {_quantiles(sorted(s for _, s in tally.latencies))}",
        *check.phases(),
        f"pushes: {tally.pushes_live}/{tally.pushes} reached the socket live; bookings: {dict(sorted(tally.bookings.items()))}",
        f"database: {unanswered} messages never answered, {counts['answered_twice']} answered twice; healthz after the run: "
        f"{'ok' if ready else 'NOT ready'}",
        *[f"lost: {what}" for what in tally.lost[:10]],
        *[f"context lost: {what}" for what in tally.context_lost_at[:10]],
        *[f"duplicated: {what}" for what in tally.duplicated_what[:10]],
        f"faults: lost={lost} duplicated={duplicated} crosstalk={tally.crosstalk} overbooked={counts['overbooked']} "
        f"context_lost={tally.context_lost}",
    ]
    failed = lost or duplicated or tally.crosstalk or counts["overbooked"] or tally.context_lost or not ready
    return (1 if failed else 0), lines


# The check's load comes from one address (nginx forwards 127.0.0.1): per-address limits would count all citizens as one.
CHECK_ENV = {"WEBCHAT_MESSAGES_PER_IP": "1000000", "WEBCHAT_SESSIONS_PER_IP": "1000000"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.cluster_check", description="集群故障检查（make cluster-check）")
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=180.0, help="over how long the conversations are started")
    args = parser.parse_args(argv)
    status, lines = run_check(args.conversations, args.seconds)
    print("\n".join(lines), flush=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
