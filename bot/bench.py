"""`make bench`: per-turn latency and throughput through /api/chat next to the bare Rasa REST webhook on
the same model in the same run, knowledge-search latency at county size and at 10,000 items, and the import of the
Guangdong guides and the Sichuan catalogue onto the county's knowledge (import, index build, memory, search)."""
from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx

from bot.launcher import Stack, free_port
from bot.settings import ROOT

if TYPE_CHECKING:
    from knowledge.search import SearchIndex

BodyOf = Callable[[str, str], dict[str, Any]]  # (sender, text) -> the request's JSON body

CONVERSATION = [
    "你好", "身份证丢了要带什么去补办", "那要多久", "在哪里办", "要钱不",
    "开个体户要跑几次", "网上能办不", "办证", "第一个", "谢谢",
]
RESULTS = ROOT / "bench-results"
GUANGDONG = ROOT / "bot" / "bench_data" / "guangdong-guides.jsonl"  # 2,262 public Guangdong guides, MIT (bot/bench_data/README.md)
GUANGDONG_NAMES = 250  # the scaled index takes its names from the first 250 guides
SICHUAN = ROOT / "knowledge" / "sources" / "sichuan-guangan-catalogue.json"  # 1,135 catalogue items, Apache-2.0
LEVELS = ("", "（市级）", "（县级）", "（区级）", "（镇街）", "（省级）")  # name suffixes of the scaled index
BASELINE_MODEL = ROOT / "models" / "baseline.tar.gz"  # bot/bench_baseline_config.yml: Rasa's default policies
OFFERED_RATES = (10, 25, 50, 100, 120, 150)  # turns per second, open loop (120: the target with margin over 100)
ROUNDS = 3  # the headline figures are measured this many times in one run: their median and range are reported
TARGET_RATE = 120  # turns per second the one-Rasa stack should hold (p99 <= P99_LIMIT_MS, no errors), each round
P99_LIMIT_MS = 300
NORMAL_MS = 1000  # after an overload, a citizen is answered "normally" again within this


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def conversations() -> list[list[str]]:
    """10-turn conversations: the greeting and follow-ups of CONVERSATION with the eval's item questions in
    between, so that caches see realistic (mostly different) questions; the same list for every target."""
    import yaml

    questions = [q["text"] for q in yaml.safe_load((ROOT / "tests" / "eval" / "questions.yml").read_text(encoding="utf-8"))["questions"]
                 if q.get("item") and q.get("intent") not in ("book_appointment",)]
    result = []
    for n in range(len(questions)):
        a, b, c = questions[n], questions[(n * 7 + 3) % len(questions)], questions[(n * 13 + 5) % len(questions)]
        result.append(["你好", a, "那要多久", "在哪里办", b, "要钱不", "网上能办不", c, "办证", "谢谢"])
    return result


def summary(latencies: list[float], errors: int, elapsed: float) -> dict[str, Any]:
    return {"turns": len(latencies), "errors": errors, "turns_per_s": len(latencies) / elapsed if elapsed else 0.0,
            "p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95), "p99": percentile(latencies, 0.99)}


async def _turn(client: aiohttp.ClientSession, url: str, body: dict[str, Any], latencies: list[float], errors: list[str], since: float) -> None:
    """One turn; latency counted from `since` (the turn's scheduled time in open loop: no coordinated omission)."""
    try:
        async with client.post(url, json=body) as response:
            await response.read()
            response.raise_for_status()
        latencies.append((time.perf_counter() - since) * 1000)
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        errors.append(repr(exc))


def load_client(timeout: float, connections: int) -> aiohttp.ClientSession:
    """The load generator's HTTP client. It shares the two cores with what it measures, so it is aiohttp: about a
    third of httpx's CPU per turn here (0.7 against 2.3 ms at 50 turns/s), which leaves more to the targets."""
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout), connector=aiohttp.TCPConnector(limit=connections))


async def closed_loop(url: str, body_of: BodyOf, clients: int, count: int, tag: str) -> dict[str, Any]:
    """`clients` citizens at a time, each sending its next turn when the last reply came; `count` conversations."""
    latencies: list[float] = []
    errors: list[str] = []
    script = conversations()
    async with load_client(30, clients + 5) as client:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(count):
            queue.put_nowait(n)

        async def worker() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                sender = f"bench-{tag}-{clients}-{n}-{time.time_ns()}"
                for text in script[n % len(script)]:
                    await _turn(client, url, body_of(sender, text), latencies, errors, time.perf_counter())

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return summary(latencies, len(errors), elapsed)


async def open_loop(url: str, body_of: BodyOf, rate: float, seconds: float, tag: str) -> dict[str, Any]:
    """Turns arrive at a fixed rate whatever the replies' speed (as citizens do): each arrival is the next turn
    of a conversation that is not waiting for a reply, or of a new one. 10 s timeout counts as an error."""
    latencies: list[float] = []
    errors: list[str] = []
    tasks: list[asyncio.Task[None]] = []
    script = conversations()
    idle: list[tuple[str, list[str]]] = []
    opened = 0
    async with load_client(10, 1000) as client:
        async def converse(sender: str, turns: list[str], since: float) -> None:
            await _turn(client, url, body_of(sender, turns[0]), latencies, errors, since)
            if len(turns) > 1:
                idle.append((sender, turns[1:]))

        started = time.perf_counter()
        total = int(rate * seconds)
        for n in range(total):
            due = started + n / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            if idle:
                sender, turns = idle.pop(0)
            else:
                sender, turns = f"bench-{tag}-{rate}-{opened}-{time.time_ns()}", script[opened % len(script)]
                opened += 1
            tasks.append(asyncio.create_task(converse(sender, turns, due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return {**summary(latencies, len(errors), elapsed), "offered": rate}


async def paired(direct_url: str, app_url: str, count: int, tag: str) -> dict[str, Any]:
    """The app's own latency: `count` conversations at one client, each sent once to the same Rasa directly and once
    through /api/chat, alternating which goes first, so that a drift of the machine's speed during the run falls on
    both alike (the two closed loops one after the other measured up to 4 ms apart on an unchanged app)."""
    direct: list[float] = []
    app: list[float] = []
    errors: list[str] = []
    script = conversations()
    async with load_client(30, 5) as client:
        for n in range(count):
            pair: list[tuple[str, BodyOf, list[float]]] = [(direct_url, BARE, direct), (app_url, OURS, app)]
            for url, body_of, latencies in pair if n % 2 == 0 else pair[::-1]:
                sender = f"bench-{tag}-{n}-{len(latencies)}-{time.time_ns()}"
                for text in script[n % len(script)]:
                    await _turn(client, url, body_of(sender, text), latencies, errors, time.perf_counter())
    return {"direct_p50": percentile(direct, 0.5), "app_p50": percentile(app, 0.5),
            "overhead_p50": percentile(app, 0.5) - percentile(direct, 0.5), "errors": len(errors)}


def rounds(stack: Stack, small: bool) -> list[dict[str, Any]]:
    """The headline figures of the one-Rasa stack, ROUNDS times over: the app's overhead (paired), a long conversation's
    last/first latency, the open loop at TARGET_RATE, and resident memory after each round. Each round starts once the
    stack answers promptly again: an overloaded open loop leaves a backlog that would fall on the next measurement."""
    direct_url, app_url = f"http://127.0.0.1:{stack.rasa_port}/webhooks/rest/webhook", f"{stack.url}/api/chat"
    found = []
    for n in range(ROUNDS):
        asyncio.run(wait_idle(app_url, OURS))  # nothing left over from what ran before (an overloaded open loop)
        row = asyncio.run(paired(direct_url, app_url, 4 if small else 20, f"r{n}"))
        latencies = asyncio.run(long_conversation(app_url, OURS, 60 if small else 300))  # before the open loop's backlog
        first, last = first_and_last(latencies, small)
        row["long_ratio"] = last / first
        opened = asyncio.run(open_loop(app_url, OURS, TARGET_RATE, 3 if small else 15, f"r{n}"))
        row.update({"open_served": opened["turns_per_s"], "open_p99": opened["p99"], "open_errors": opened["errors"]})
        asyncio.run(wait_idle(app_url, OURS))
        row["memory_mb"] = rss_of(stack.app) + rss_mb(stack.rasas[0].pid)
        found.append(row)
    return found


def spread(values: list[float], fmt: str) -> str:
    """Median with the range of the rounds: "12.3（11.9–13.0）"."""
    return f"{format(statistics.median(values), fmt)}（{format(min(values), fmt)}–{format(max(values), fmt)}）"


def first_and_last(latencies: list[float], small: bool) -> tuple[float, float]:
    """A long conversation's p50 over its first and over its last 50 turns (10 at small scale)."""
    window = 10 if small else 50
    return statistics.median(latencies[:window]), statistics.median(latencies[-window:])


async def long_conversation(url: str, body_of: BodyOf, turns: int) -> list[float]:
    """Per-turn latency (ms) of one conversation `turns` long."""
    latencies = []
    sender = f"bench-long-{time.time_ns()}"
    async with load_client(60, 2) as client:
        for n in range(turns):
            started = time.perf_counter()
            async with client.post(url, json=body_of(sender, CONVERSATION[n % len(CONVERSATION)])) as response:
                await response.read()
                response.raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def wait_idle(url: str, body_of: BodyOf, limit_ms: float = 200, seconds: float = 60) -> None:
    """Until a single turn is answered within `limit_ms` (the previous load's backlog, if any, has drained)."""
    async with load_client(30, 2) as client:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with client.post(url, json=body_of(f"bench-idle-{time.time_ns()}", "你好")) as response:
                await response.read()
            if (time.perf_counter() - started) * 1000 < limit_ms:
                return
            await asyncio.sleep(0.5)


async def burst(url: str, body_of: BodyOf, rate: float, count: int, give_up: float = 5.0, probe_rate: float = 10,
                probe_seconds: float = 10) -> dict[str, Any]:
    """`count` turns of new citizens at `rate` per second (each gives up after `give_up` s), then, from the moment the
    last one is sent, other citizens at `probe_rate` per second: how long until they are answered normally again
    (within NORMAL_MS, and every one after them too)."""
    counts = {"served": 0, "busy": 0, "gave_up": 0, "errors": 0}
    probes: list[tuple[float, float | None]] = []  # (sent, seconds after the burst; latency ms or None if not served)
    questions = [turns[1] for turns in conversations()]
    async with load_client(give_up, 3000) as client:
        async def one(n: int) -> None:
            try:
                async with client.post(url, json=body_of(f"bench-burst-{n}-{time.time_ns()}", questions[n % len(questions)])) as r:
                    await r.read()
                    counts["served" if r.status == 200 else "busy" if r.status == 503 else "errors"] += 1
            except (aiohttp.ClientError, asyncio.TimeoutError):
                counts["gave_up"] += 1

        async def probe(at: float, n: int) -> None:
            started = time.perf_counter()
            try:
                async with client.post(url, json=body_of(f"bench-probe-{n}-{time.time_ns()}", questions[-1 - n % len(questions)])) as r:
                    await r.read()
                    probes.append((at, (time.perf_counter() - started) * 1000 if r.status == 200 else None))
            except (aiohttp.ClientError, asyncio.TimeoutError):
                probes.append((at, None))

        tasks, started = [], time.perf_counter()
        for n in range(count):
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(n)))
        ended = time.perf_counter()
        for n in range(int(probe_rate * probe_seconds)):
            await asyncio.sleep(max(0.0, ended + n / probe_rate - time.perf_counter()))
            tasks.append(asyncio.create_task(probe(n / probe_rate, n)))
        await asyncio.gather(*tasks)
    probes.sort()
    bad = [at for at, latency in probes if latency is None or latency > NORMAL_MS]
    recovered = (bad[-1] + 1 / probe_rate) if bad else 0.0
    served = [latency for _, latency in probes if latency is not None]
    return {"offered": rate, "count": count, **counts, "recovered_s": recovered,
            "recovered": not bad or bad[-1] < probes[-1][0], "probe_p50": percentile(served, 0.5),
            "probe_p99": percentile(served, 0.99), "probe_failed": sum(1 for _, latency in probes if latency is None)}


def _fresh_db(name: str) -> dict[str, Any]:
    for suffix in ("", "-wal", "-shm"):
        (ROOT / "var" / f"{name}{suffix}").unlink(missing_ok=True)
    return {"DATABASE_URL": f"sqlite:///{ROOT / 'var' / name}"}


BARE = lambda sender, text: {"sender": sender, "message": text}  # noqa: E731  Rasa's REST channel
OURS = lambda sender, text: {"sender": sender, "text": text}  # noqa: E731  the app's /api/chat


def measure(target: str, url: str, body_of: BodyOf, small: bool, rates: tuple[float, ...] = OFFERED_RATES,
            closed: tuple[int, ...] = (1, 10, 20), long_turns: int | None = None, label: str = "") -> dict[str, Any]:
    """Every load on one running target: closed loop at `closed` clients, one long conversation, open loop at `rates`."""
    counts = {clients: (2 if small else 6) if clients == 1 else (clients if small else clients * 3) for clients in closed}
    # Warm-up: once, every conversation the closed loops below send (each stage starts from the first), so a target
    # measured after another on the same processes (T3 after T2) finds its caches no warmer than the first.
    asyncio.run(closed_loop(url, body_of, 10, max(counts.values(), default=2), "warm"))
    rows: dict[str, Any] = {"target": target, "label": label or target, "closed": [], "open": [], "long": None}
    for clients, count in counts.items():
        rows["closed"].append({"clients": clients, **asyncio.run(closed_loop(url, body_of, clients, count, "c"))})
    if long_turns:  # before the open loop, whose overload would leave a backlog behind
        latencies = asyncio.run(long_conversation(url, body_of, long_turns))
        first, last = first_and_last(latencies, small)
        rows["long"] = {"turns": long_turns, "first_p50": first, "last_p50": last, "ratio": last / first, "latencies": latencies}
    for rate in rates:
        result = asyncio.run(open_loop(url, body_of, rate, 3 if small else 15, "o"))
        rows["open"].append(result)
        if result["p99"] > 5 * P99_LIMIT_MS or result["errors"]:  # far past saturation: higher rates only queue
            break
    return rows


def bench_chat(small: bool, replicas: int = 2) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, dict[str, float]],
                                                      list[dict[str, Any]], list[dict[str, Any]]]:
    """Bare default Rasa (baseline model, Rasa's REST channel), then this system: its own Rasa directly and the
    app's /api/chat with one Rasa process, then /api/chat with `replicas` Rasa processes (open loop only)."""
    if not BASELINE_MODEL.exists():
        raise SystemExit(f"缺少基线模型 {BASELINE_MODEL}：请用 make bench 运行（会先训练它）")
    long_turns = 60 if small else 300
    results: list[dict[str, Any]] = []
    memory: dict[str, dict[str, float]] = {}
    with Stack(free_port(), free_port(), extra_env=_fresh_db("bench-baseline.db"), tag="-bench-baseline",
               model=BASELINE_MODEL, patched=False) as stack:
        results.append(measure("默认 Rasa（基线）", f"http://127.0.0.1:{stack.rasa_port}/webhooks/rest/webhook", BARE, small,
                               long_turns=long_turns, label="default Rasa 3.6 (baseline)"))
        memory["默认 Rasa（基线）"] = {"Rasa": rss_mb(stack.rasas[0].pid)}
    with Stack(free_port(), free_port(), extra_env=_fresh_db("bench.db"), tag="-bench") as stack:
        results.append(measure("本系统的 Rasa 直连", f"http://127.0.0.1:{stack.rasa_port}/webhooks/rest/webhook", BARE, small,
                               rates=(), long_turns=None, label="this Rasa, direct"))
        results.append(measure("本系统 /api/chat（1 个 Rasa）", f"{stack.url}/api/chat", OURS, small, long_turns=long_turns,
                               label="/api/chat, 1 Rasa"))
        repeated = rounds(stack, small)
        booking = asyncio.run(booking_load(stack.url, 60 if small else 300, 20))
        memory["本系统（1 个 Rasa）"] = {"应用": rss_of(stack.app), "Rasa": rss_mb(stack.rasas[0].pid)}
        overload = [overload_run(stack.url, results[-1], small, "有排队上限（RASA_CONCURRENCY=8）")]
    # The same burst on the same model with the line in front of Rasa turned off: what the limit is measured against.
    with Stack(free_port(), free_port(), extra_env={**_fresh_db("bench-unbounded.db"), "RASA_CONCURRENCY": "0"},
               tag="-bench-unbounded") as stack:
        overload.append(overload_run(stack.url, results[-1], small, "不设上限（RASA_CONCURRENCY=0）"))
    if replicas > 1:
        app_port = free_port()
        with Stack(app_port, free_port(replicas, avoid=(app_port,)), extra_env=_fresh_db("bench-replicas.db"), tag="-bench-replicas",
                   rasa_replicas=replicas) as stack:
            results.append(measure(f"本系统 /api/chat（{replicas} 个 Rasa）", f"{stack.url}/api/chat", OURS, small, closed=(1, 10),
                                   label=f"/api/chat, {replicas} Rasa"))
            memory[f"本系统（{replicas} 个 Rasa）"] = {"应用": rss_of(stack.app),
                                                   **{f"Rasa {n + 1}": rss_mb(r.pid) for n, r in enumerate(stack.rasas)}}
    return results, booking, memory, overload, repeated


def overload_run(url: str, measured: dict[str, Any], small: bool, label: str) -> dict[str, Any]:
    """A burst at twice the sustainable rate (the highest open-loop rate served in full: no errors, >= 95% of the offered
    turns per second, whatever the latency), after the backlog of the measurements before has drained."""
    served = [r["offered"] for r in measured["open"] if r["errors"] == 0 and r["turns_per_s"] >= 0.95 * r["offered"]] or [10]
    rate = 2 * max(served)
    asyncio.run(wait_idle(f"{url}/api/chat", OURS))
    return {"label": label, **asyncio.run(burst(f"{url}/api/chat", OURS, rate, 200 if small else 2000,
                                                probe_seconds=5 if small else 10))}


def rss_of(process: subprocess.Popen[bytes] | None) -> float:
    assert process is not None, "not started"
    return rss_mb(process.pid)


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB (Linux /proc)."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if int(fields.get("Pid", 0)) == pid or int(fields.get("PPid", 0)) == pid:
            total += int(fields.get("VmRSS", "0 kB").split()[0])
    return total / 1024


async def booking_load(base_url: str, attempts: int, clients: int) -> dict[str, Any]:
    """Concurrent POST /api/appointments: many citizens competing for the next working days' slots."""
    import chinese_calendar

    from bot.clock import TZ

    days: list[dt.date] = []
    day = dt.datetime.now(TZ).date() + dt.timedelta(days=1)
    while len(days) < 3:
        if chinese_calendar.is_workday(day) and day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    starts = ["09:00", "09:30", "10:00", "10:30", "14:00", "14:30"]
    latencies: list[float] = []
    outcomes: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(attempts):
        queue.put_nowait(n)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        async def worker() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                body = {"item": "居民身份证办理（包括临时）", "date": days[n % len(days)].isoformat(),
                        "start": starts[(n // len(days)) % len(starts)], "name": "压测", "phone": f"166{n:08d}"}
                started = time.perf_counter()
                response = await client.post("/api/appointments", json=body)
                latencies.append((time.perf_counter() - started) * 1000)
                outcomes[response.status_code] = outcomes.get(response.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return {"attempts": attempts, "clients": clients, "per_s": attempts / elapsed, "p50": percentile(latencies, 0.5),
            "p99": percentile(latencies, 0.99), "booked": outcomes.get(201, 0), "full": outcomes.get(409, 0),
            "other": sum(v for k, v in outcomes.items() if k not in (201, 409))}


def scaled_names(items: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """(name, department) of the Guangdong sample without end: every name with each of LEVELS, then again with a
    round counter ("（1）", "（2）", ...), so the scaled index holds the same entries in every run."""
    if not items:
        raise ValueError(f"{GUANGDONG} 中没有事项")
    for round_ in itertools.count():
        counter = f"（{round_}）" if round_ else ""
        for suffix in LEVELS:
            for item in items:
                yield item["TASK_NAME"] + suffix + counter, item.get("DEPT_NAME") or "未知"


def scaled_index(size: int) -> SearchIndex:
    """The county index plus Guangdong sample names (with level suffixes and round counters) up to `size` entries."""
    from knowledge.loader import KnowledgeBase, catalogue_id
    from knowledge.loader import load as load_kb
    from knowledge.schema import Entry
    from knowledge.search import SearchIndex

    kb = load_kb()
    entries = list(kb.entries)
    names = {e.name for e in entries}
    lines = [line for line in GUANGDONG.read_text(encoding="utf-8").splitlines() if line.strip()]
    guangdong = [json.loads(line) for line in lines[:GUANGDONG_NAMES]]
    for name, department in scaled_names(guangdong):
        if len(entries) >= size:
            break
        if name not in names:
            names.add(name)
            entries.append(Entry(id=catalogue_id(name), name=name, department=department, type="公共服务"))
    return SearchIndex(KnowledgeBase(entries, []))


SMALL_SCALE = 2_000  # the scaled index of `bench --small` (a CI smoke run)


def eval_questions(small: bool) -> list[str]:
    questions = [q["text"] for q in __import__("yaml").safe_load((ROOT / "tests" / "eval" / "questions.yml").read_text(encoding="utf-8"))["questions"]]
    return questions[:60] if small else questions


def search_times(index: SearchIndex, questions: list[str]) -> dict[str, Any]:
    """Search latency over the questions, in ms, after a warm-up."""
    for q in questions[:20]:
        index.search(q)  # warm caches
    index.clear_cache()  # measure searching, not remembering (a repeated question is answered from memory)
    times = []
    for q in questions:
        t = time.perf_counter()
        index.search(q, top=3)
        times.append((time.perf_counter() - t) * 1000)
    return {"p50": statistics.median(times), "p95": percentile(times, 0.95), "p99": percentile(times, 0.99)}


def bench_search(small: bool) -> list[dict[str, Any]]:
    from knowledge.loader import load as load_kb
    from knowledge.search import SearchIndex

    questions = eval_questions(small)
    rows = []
    scale = SMALL_SCALE if small else 10_000  # the smoke run's index is smaller: a 10,000-item build takes 3 minutes
    builds: tuple[tuple[str, Callable[[], SearchIndex]], ...] = (("county", lambda: SearchIndex(load_kb())),
                                                                 (f"{scale:,} items", lambda: scaled_index(scale)))
    for label, build in builds:
        started = time.perf_counter()
        index = build()
        built = time.perf_counter() - started
        rows.append({"index": label, "entries": len(index.entries), "build_s": built, **search_times(index, questions)})
    return rows


def own_rss_mb() -> float:
    """This process's resident memory, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_import(small: bool) -> dict[str, Any]:
    """`kb import` of the Guangdong guides and the Sichuan catalogue onto the county's seed, published into a scratch
    SQLite database as `kb import` does, then the index an app process builds from that version, and search on it."""
    import tempfile

    from bot.db import Database
    from knowledge import fitted, versions
    from knowledge.importer import plan

    with tempfile.TemporaryDirectory() as scratch:
        database = Database(f"sqlite:///{scratch}/import.db")
        database.migrate()
        started = time.perf_counter()
        with database.session() as session:
            versions.ensure_seed(db_session=session)
            base, current = versions.latest_number(db_session=session), versions.content_of(db_session=session)
        result = plan([GUANGDONG, SICHUAN], current)
        if not result.ok:
            raise RuntimeError("\n".join(result.report()))
        assert result.content is not None and base is not None  # an ok plan has content; the seed is a version
        checked = time.perf_counter() - started
        fitted_index, model = fitted.fit(result.content, "bench", reuse=False)  # as `kb import` does, fitting it
        del fitted_index
        with database.session() as session:
            number = versions.publish_on(db_session=session, base=base, content=result.content, author="bench", reason="",
                                         source="import:bench", search_model=model)
        imported = time.perf_counter() - started
        rss_before = own_rss_mb()
        started = time.perf_counter()  # what each app process does when it sees the new version
        with database.session() as session:
            content = versions.content_of(db_session=session, number=number)
            blob = versions.search_model_of(db_session=session, number=number)
        index = fitted.load(content, blob, "bench")
        assert index is not None, "the stored search model did not load"
        built = time.perf_counter() - started
        rss_index = own_rss_mb() - rss_before
        database.engine.dispose()
    kb = index.kb
    return {"records": result.items, "entries": len(kb.entries), "guides": sum(1 for e in kb.entries if e.has_guide),
            "check_s": checked, "import_s": imported, "build_s": built, "index_mb": rss_index, "rss_mb": own_rss_mb(),
            **search_times(index, eval_questions(small))}


def saturation(rows: list[dict[str, Any]]) -> str:
    """The highest offered rate served with p99 <= P99_LIMIT_MS, no errors and >= 95% of the offered turns/s."""
    served = [r["offered"] for r in rows if r["errors"] == 0 and r["p99"] <= P99_LIMIT_MS and r["turns_per_s"] >= 0.95 * r["offered"]]
    return f"{max(served)} 轮/秒" if served else "低于 10 轮/秒"


def plot(results: list[dict[str, Any]], path: Path) -> None:
    """Latency against offered load and against conversation length, one line per target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (load_ax, length_ax) = plt.subplots(1, 2, figsize=(12, 4.5))
    for n, r in enumerate(results):
        label = f"T{n + 1} {r['label']}"
        if r["open"]:
            rates = [o["offered"] for o in r["open"]]
            load_ax.plot(rates, [o["p50"] for o in r["open"]], marker="o", label=f"{label} p50")
            load_ax.plot(rates, [o["p99"] for o in r["open"]], marker="x", linestyle="--", label=f"{label} p99")
        if r["long"]:
            lat = r["long"]["latencies"]
            step = 10
            length_ax.plot(range(0, len(lat), step), [statistics.median(lat[i:i + step]) for i in range(0, len(lat), step)], label=label)
    load_ax.axhline(P99_LIMIT_MS, color="grey", linewidth=0.8)
    load_ax.set(xlabel="offered load (turns/s, open loop)", ylabel="latency (ms)", yscale="log", title="latency vs offered load")
    length_ax.set(xlabel="turn number in one conversation", ylabel="p50 per 10 turns (ms)", title="latency vs conversation length")
    load_ax.legend(fontsize=7)
    length_ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(small: bool = False, replicas: int = 2) -> int:
    import os
    import platform

    RESULTS.mkdir(exist_ok=True)
    machine = f"{os.cpu_count()} 核，{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2 ** 30)} GiB 内存，{platform.processor() or platform.machine()}"
    lines = ["# 基准结果", f"机器：{machine}；{time.strftime('%Y-%m-%d %H:%M')}；{'小规模（CI 冒烟）' if small else '完整'}", ""]
    search_rows = bench_search(small)
    lines += ["## 知识检索延迟（毫秒）", "| 索引 | 事项数 | 建索引(秒) | p50 | p95 | p99 |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['index']} | {r['entries']} | {r['build_s']:.1f} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} |" for r in search_rows]
    imported = bench_import(small)
    lines += ["", "## 知识导入：广东办事指南 + 四川事项目录 + 本县指南（kb import，发布为新版本）",
              "| 读取记录 | 事项数 | 其中有办事指南 | 校验(秒) | 校验+拟合+发布(秒) | 应用进程换用新版本(秒) | 索引内存(MB) | 进程内存(MB) | 检索 p50 | p95 | p99 |",
              "|---|---|---|---|---|---|---|---|---|---|---|",
              f"| {imported['records']} | {imported['entries']} | {imported['guides']} | {imported['check_s']:.1f} | {imported['import_s']:.1f} | "
              f"{imported['build_s']:.1f} | {imported['index_mb']:.0f} | {imported['rss_mb']:.0f} | {imported['p50']:.2f} | "
              f"{imported['p95']:.2f} | {imported['p99']:.2f} |"]
    results, booking, memory, overload, repeated = bench_chat(small, replicas)
    targets = {f"T{n + 1}": r["target"] for n, r in enumerate(results)}
    lines += ["", "目标：" + "；".join(f"{k} = {v}" for k, v in targets.items()), "",
              f"## 主要指标，同一次运行中测 {ROUNDS} 轮：中位数（最小–最大）",
              "T3 的应用与其 Rasa 同时运行；每轮等积压清空后依次测：1 个客户端交替直连 Rasa 与经 /api/chat 发送同样的对话（应用自身开销），"
              f"一次 {60 if small else 300} 轮的长对话，开环 {TARGET_RATE} 轮/秒，然后两进程的常驻内存。",
              "| 指标 | 结果 | 目标 |", "|---|---|---|",
              f"| 应用自身开销 p50（/api/chat 减同一 Rasa 直连，1 个客户端，毫秒） | {spread([r['overhead_p50'] for r in repeated], '+.1f')} | ≤ 3 |",
              f"| 同一 Rasa 直连 p50（毫秒） | {spread([r['direct_p50'] for r in repeated], '.1f')} | — |",
              f"| 开环 {TARGET_RATE} 轮/秒：实际轮/秒 | {spread([r['open_served'] for r in repeated], '.1f')} | ≥ {0.95 * TARGET_RATE:.0f} |",
              f"| 开环 {TARGET_RATE} 轮/秒：p99（毫秒） | {spread([r['open_p99'] for r in repeated], '.0f')} | ≤ {P99_LIMIT_MS} |",
              f"| 开环 {TARGET_RATE} 轮/秒：错误 | {spread([float(r['open_errors']) for r in repeated], '.0f')} | 0 |",
              f"| 长对话末段/前段 p50 | {spread([r['long_ratio'] for r in repeated], '.2f')} | ≤ 1.2（每轮） |",
              f"| 常驻内存：应用 + 1 个 Rasa（MB，每轮之后） | {spread([r['memory_mb'] for r in repeated], '.0f')} | ≤ 1400 |", "",
              "## 闭环：每位市民收到回复再发下一轮（10 轮对话，毫秒）",
              "| 目标 | 并发 | 轮数 | 错误 | 轮/秒 | p50 | p95 | p99 |", "|---|---|---|---|---|---|---|---|"]
    for n, r in enumerate(results):
        lines += [f"| T{n + 1} | {c['clients']} | {c['turns']} | {c['errors']} | {c['turns_per_s']:.1f} | {c['p50']:.1f} | {c['p95']:.1f} | {c['p99']:.1f} |"
                  for c in r["closed"]]
    lines += ["", f"## 开环：按固定到达率发送（每档 {3 if small else 15} 秒，超时 10 秒计错误，毫秒）",
              "| 目标 | 到达率 | 实际轮/秒 | 错误 | p50 | p95 | p99 |", "|---|---|---|---|---|---|---|"]
    for n, r in enumerate(results):
        lines += [f"| T{n + 1} | {o['offered']} | {o['turns_per_s']:.1f} | {o['errors']} | {o['p50']:.1f} | {o['p95']:.1f} | {o['p99']:.1f} |"
                  for o in r["open"]]
    lines += [""] + [f"T{n + 1} 饱和前最高到达率（p99 ≤ {P99_LIMIT_MS} ms、无错误）：{saturation(r['open'])}" for n, r in enumerate(results) if r["open"]]
    window = 10 if small else 50
    lines += ["", f"## 长对话：同一会话前 {window} 轮与最后 {window} 轮的每轮 p50（毫秒）",
              "| 目标 | 轮数 | 前段 p50 | 末段 p50 | 末段/前段 |", "|---|---|---|---|---|"]
    lines += [f"| T{n + 1} | {r['long']['turns']} | {r['long']['first_p50']:.1f} | {r['long']['last_p50']:.1f} | {r['long']['ratio']:.2f} |"
              for n, r in enumerate(results) if r["long"]]
    bare, direct, app = results[0], results[1], results[2]
    lines.append("")
    for b, d, a in zip(bare["closed"], direct["closed"], app["closed"]):
        lines.append(f"应用自身开销（/api/chat 减同一 Rasa 直连，{d['clients']} 并发）：p50 {a['p50'] - d['p50']:+.1f} ms，"
                     f"p99 {a['p99'] - d['p99']:+.1f} ms；占同一 Rasa 直连的 p50 {100 * (a['p50'] / d['p50'] - 1):+.1f}%、"
                     f"p99 {100 * (a['p99'] / d['p99'] - 1):+.1f}%；占默认 Rasa（基线）的 p50 {100 * (a['p50'] - d['p50']) / b['p50']:+.1f}%、"
                     f"p99 {100 * (a['p99'] - d['p99']) / b['p99']:+.1f}%")
    lines += ["", "## 预约并发（20 个并发客户端抢同一批时段，SQLite）",
              f"尝试 {booking['attempts']} 次，{booking['per_s']:.1f} 次/秒，p50 {booking['p50']:.1f} ms，p99 {booking['p99']:.1f} ms；"
              f"成功 {booking['booked']}，约满 {booking['full']}，其他 {booking['other']}（容量 3 天 × 6 时段 × 4 名额 = 72）"]
    lines += ["", "## 过载之后：突发之后多久恢复正常（/api/chat，1 个 Rasa）",
              f"突发：新市民按 T3 全部接住（无错误、实际轮/秒 ≥ 到达率的 95%）的最高到达率的两倍发送，每人等 5 秒后放弃；突发发完后，"
              f"其他市民每秒 10 轮：从突发结束到之后每一轮都在 {NORMAL_MS} ms 内得到正常答复所用的秒数。",
              "| 设置 | 到达率 | 轮数 | 答复 | 繁忙提示(503) | 超时放弃 | 其他错误 | 恢复(秒) | 之后 p50 | 之后 p99 | 之后未答 |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {o['label']} | {o['offered']} | {o['count']} | {o['served']} | {o['busy']} | {o['gave_up']} | {o['errors']} | "
              f"{o['recovered_s']:.1f}{'' if o['recovered'] else '（未恢复）'} | {o['probe_p50']:.0f} | {o['probe_p99']:.0f} | {o['probe_failed']} |"
              for o in overload]
    lines += ["", "## 常驻内存（MB，负载之后）"]
    lines += [f"- {name}：" + "，".join(f"{k} {v:.0f}" for k, v in parts.items()) + f"；合计 {sum(parts.values()):.0f}" for name, parts in memory.items()]
    report = "\n".join(lines)
    print(report)
    (RESULTS / "bench.md").write_text(report + "\n", encoding="utf-8")
    plot(results, RESULTS / "bench.png")
    for r in results:
        if r["long"]:
            r["long"] = {k: v for k, v in r["long"].items() if k != "latencies"}
    (RESULTS / "bench.json").write_text(json.dumps({"machine": machine, "search": search_rows, "import": imported, "chat": results, "booking": booking,
                                                    "overload": overload, "memory_mb": memory, "rounds": repeated}, ensure_ascii=False, indent=2))
    print(f"\n结果：{RESULTS / 'bench.md'}，曲线图：{RESULTS / 'bench.png'}")
    return 0
