"""`make bench`: per-turn latency and throughput through /api/chat next to the bare Rasa REST webhook on
the same model in the same run, and knowledge-search latency at county size and at 10,000 items."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import statistics
import time
from pathlib import Path

import httpx

from bot.evaluation import free_port
from bot.launcher import Stack
from bot.settings import ROOT

CONVERSATION = [
    "你好", "身份证丢了要带什么去补办", "那要多久", "在哪里办", "要钱不",
    "开个体户要跑几次", "网上能办不", "办证", "第一个", "谢谢",
]
RESULTS = ROOT / "bench-results"
GUANGDONG = ROOT.parent / "shared" / "data" / "guangdong-guides.jsonl"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def _conversation(client: httpx.AsyncClient, url: str, body_of, sender: str, latencies: list, errors: list) -> None:
    for text in CONVERSATION:
        started = time.perf_counter()
        try:
            response = await client.post(url, json=body_of(sender, text))
            response.raise_for_status()
        except httpx.HTTPError as exc:
            errors.append(repr(exc))
            continue
        latencies.append((time.perf_counter() - started) * 1000)


async def load(url: str, body_of, clients: int, conversations: int, tag: str) -> dict:
    """`conversations` 10-turn conversations, `clients` at a time; per-turn latency in ms."""
    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients + 5)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        queue = asyncio.Queue()
        for n in range(conversations):
            queue.put_nowait(f"bench-{tag}-{clients}-{n}-{time.time_ns()}")

        async def worker():
            while not queue.empty():
                await _conversation(client, url, body_of, queue.get_nowait(), latencies, errors)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return {
        "turns": len(latencies), "errors": len(errors), "turns_per_s": len(latencies) / elapsed,
        "p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95), "p99": percentile(latencies, 0.99),
    }


def bench_chat(small: bool) -> tuple[list[dict], dict]:
    rows = []
    for suffix in ("", "-wal", "-shm"):  # a fresh database each run
        (ROOT / "var" / f"bench.db{suffix}").unlink(missing_ok=True)
    with Stack(free_port(), free_port(), extra_env={"DATABASE_URL": f"sqlite:///{ROOT / 'var' / 'bench.db'}"}, tag="-bench") as stack:
        rasa_url = f"http://127.0.0.1:{stack.rasa_port}/webhooks/rest/webhook"
        app_url = f"{stack.url}/api/chat"
        bare = lambda sender, text: {"sender": sender, "message": text}  # noqa: E731
        ours = lambda sender, text: {"sender": sender, "text": text}  # noqa: E731
        asyncio.run(load(rasa_url, bare, 2, 2, "warm"))
        asyncio.run(load(app_url, ours, 2, 2, "warm"))
        for clients in (1, 20):
            conversations = (2 if small else 5) if clients == 1 else (clients if small else clients * 2)
            for name, url, body in (("bare Rasa REST", rasa_url, bare), ("app /api/chat", app_url, ours)):
                result = asyncio.run(load(url, body, clients, conversations, name.split()[0]))
                rows.append({"target": name, "clients": clients, **result})
        booking = asyncio.run(booking_load(stack.url, 60 if small else 300, 20))
        booking["rss_mb"] = {"app": rss_mb(stack.app.pid), "rasa": rss_mb(stack.rasa.pid)}
        turns = 60 if small else 300
        for name, url, body in (("bare Rasa REST", rasa_url, bare), ("app /api/chat", app_url, ours)):
            latencies = asyncio.run(long_conversation(url, body, turns))
            window = 10 if small else 50
            first, last = statistics.median(latencies[:window]), statistics.median(latencies[-window:])
            rows.append({"target": name, "clients": "long", "turns": turns, "first_p50": first, "last_p50": last,
                         "ratio": last / first})
    return rows, booking


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


async def long_conversation(url: str, body_of, turns: int) -> list[float]:
    """Per-turn latency (ms) of one conversation `turns` long."""
    latencies = []
    sender = f"bench-long-{time.time_ns()}"
    async with httpx.AsyncClient(timeout=60) as client:
        for n in range(turns):
            started = time.perf_counter()
            response = await client.post(url, json=body_of(sender, CONVERSATION[n % len(CONVERSATION)]))
            response.raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def booking_load(base_url: str, attempts: int, clients: int) -> dict:
    """Concurrent POST /api/appointments: many citizens competing for the next working days' slots."""
    import chinese_calendar
    from bot.booking.schedule import TZ

    days, day = [], dt.datetime.now(TZ).date() + dt.timedelta(days=1)
    while len(days) < 3:
        if chinese_calendar.is_workday(day) and day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    starts = ["09:00", "09:30", "10:00", "10:30", "14:00", "14:30"]
    latencies, outcomes = [], {}
    queue = asyncio.Queue()
    for n in range(attempts):
        queue.put_nowait(n)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        async def worker():
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


def scaled_index(size: int):
    """The county index plus Guangdong item names (with level suffixes) up to `size` entries."""
    from knowledge.loader import KnowledgeBase, catalogue_id, load as load_kb
    from knowledge.schema import Entry
    from knowledge.search import SearchIndex

    kb = load_kb()
    entries = list(kb.entries)
    names = {e.name for e in entries}
    guangdong = [json.loads(line) for line in GUANGDONG.read_text(encoding="utf-8").splitlines() if line.strip()]
    for suffix in ("", "（市级）", "（县级）", "（区级）", "（镇街）", "（省级）"):
        for item in guangdong:
            name = item["TASK_NAME"] + suffix
            if len(entries) >= size:
                break
            if name not in names:
                names.add(name)
                entries.append(Entry(id=catalogue_id(name), name=name, department=item.get("DEPT_NAME") or "未知", type="公共服务"))
    return SearchIndex(KnowledgeBase(entries, []))


def bench_search(small: bool) -> list[dict]:
    from knowledge.loader import load as load_kb
    from knowledge.search import SearchIndex

    questions = [q["text"] for q in __import__("yaml").safe_load((ROOT / "tests" / "eval" / "questions.yml").read_text(encoding="utf-8"))["questions"]]
    if small:
        questions = questions[:60]
    rows = []
    for label, build in (("county", lambda: SearchIndex(load_kb())), ("10,000 items", lambda: scaled_index(10_000))):
        started = time.perf_counter()
        index = build()
        built = time.perf_counter() - started
        for q in questions[:20]:
            index.search(q)  # warm caches
        times = []
        for q in questions:
            t = time.perf_counter()
            index.search(q, top=3)
            times.append((time.perf_counter() - t) * 1000)
        rows.append({"index": label, "entries": len(index.entries), "build_s": built, "p50": statistics.median(times),
                     "p95": percentile(times, 0.95), "p99": percentile(times, 0.99)})
    return rows


def main(small: bool = False) -> int:
    RESULTS.mkdir(exist_ok=True)
    lines = ["# 基准结果", f"机器：{__import__('os').cpu_count()} 核；{time.strftime('%Y-%m-%d %H:%M')}；{'小规模' if small else '完整'}", ""]
    search_rows = bench_search(small)
    lines += ["## 知识检索延迟（毫秒）", "| 索引 | 事项数 | 建索引(秒) | p50 | p95 | p99 |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['index']} | {r['entries']} | {r['build_s']:.1f} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} |" for r in search_rows]
    chat_rows, booking = bench_chat(small)
    lines += ["", "## 每轮对话延迟（毫秒）与吞吐（10 轮对话）",
              "| 目标 | 并发会话 | 轮数 | 错误 | 轮/秒 | p50 | p95 | p99 |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['target']} | {r['clients']} | {r['turns']} | {r['errors']} | {r['turns_per_s']:.1f} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} |" for r in chat_rows if r["clients"] != "long"]
    lines += ["", "## 长对话：同一会话前段与末段的每轮 p50（毫秒）", "| 目标 | 轮数 | 前段 p50 | 末段 p50 | 末段/前段 |", "|---|---|---|---|---|"]
    lines += [f"| {r['target']} | {r['turns']} | {r['first_p50']:.1f} | {r['last_p50']:.1f} | {r['ratio']:.2f} |" for r in chat_rows if r["clients"] == "long"]
    lines.append("")
    for clients in (1, 20):
        bare = next(r for r in chat_rows if r["clients"] == clients and r["target"].startswith("bare"))
        app = next(r for r in chat_rows if r["clients"] == clients and r["target"].startswith("app"))
        lines.append(f"应用开销（{clients} 并发）：p50 {100 * (app['p50'] / bare['p50'] - 1):+.1f}%，p99 {100 * (app['p99'] / bare['p99'] - 1):+.1f}%")
    lines += ["", "## 预约并发（20 个并发客户端抢同一批时段，SQLite）",
              f"尝试 {booking['attempts']} 次，{booking['per_s']:.1f} 次/秒，p50 {booking['p50']:.1f} ms，p99 {booking['p99']:.1f} ms；"
              f"成功 {booking['booked']}，约满 {booking['full']}，其他 {booking['other']}（容量 3 天 × 6 时段 × 4 名额 = 72）"]
    rss = booking["rss_mb"]
    lines += ["", f"## 常驻内存：应用 {rss['app']:.0f} MB，Rasa {rss['rasa']:.0f} MB，合计 {rss['app'] + rss['rasa']:.0f} MB"]
    report = "\n".join(lines)
    print(report)
    (RESULTS / "bench.md").write_text(report + "\n", encoding="utf-8")
    (RESULTS / "bench.json").write_text(json.dumps({"search": search_rows, "chat": chat_rows, "booking": booking}, ensure_ascii=False, indent=2))
    return 0
