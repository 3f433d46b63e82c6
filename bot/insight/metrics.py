"""Operations figures in the Prometheus text format (prometheus-client), served at `/metrics`.

Counted in this process since it started (every app replica is scraped on its own): turns by channel and outcome,
turn latency per channel, Rasa's latency, errors by kind; read at each scrape: the operators' queue, the turns
waiting for Rasa, the knowledge version served. `/metrics` answers loopback peers only, unless METRICS_TOKEN is set:
then any peer with `Authorization: Bearer <METRICS_TOKEN>` (docs/operations.md).
"""
from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from bot.security import is_loopback

if TYPE_CHECKING:
    from bot.db import Database

REGISTRY = CollectorRegistry(auto_describe=True)  # ours only: no process or platform collectors of the default
PREFIX = "assistant"
TURN_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

TURNS = Counter(f"{PREFIX}_turns", "Citizen turns handled, by channel and outcome", ["channel", "outcome"], registry=REGISTRY)
TURN_SECONDS = Histogram(f"{PREFIX}_turn_seconds", "Time from a citizen's message to its stored replies, by channel",
                         ["channel"], buckets=TURN_BUCKETS, registry=REGISTRY)
RASA_SECONDS = Histogram(f"{PREFIX}_rasa_seconds", "Time of one Rasa request (a turn through the REST webhook)",
                         buckets=TURN_BUCKETS, registry=REGISTRY)
RASA_FAILOVERS = Counter(f"{PREFIX}_rasa_failovers", "Rasa requests sent to the next Rasa process because the pinned one "
                         "could not be reached (RASA_FAILOVER)", registry=REGISTRY)
ERRORS = Counter(f"{PREFIX}_errors", "Errors by kind: rasa (down or failing), busy (overload), action (an action raised), "
                 "record (an outcome could not be stored)", ["kind"], registry=REGISTRY)
HANDOFF_QUEUE = Gauge(f"{PREFIX}_handoff_queue_length", "Conversations waiting for an operator", registry=REGISTRY)
RASA_QUEUE = Gauge(f"{PREFIX}_rasa_queue_length", "Turns of this process waiting for a Rasa slot (overload gate)",
                   registry=REGISTRY)
KNOWLEDGE = Gauge(f"{PREFIX}_knowledge_version", "The knowledge version this process serves", registry=REGISTRY)

router = APIRouter()


def count_turn(channel: str, outcome: str, seconds: float | None) -> None:
    TURNS.labels(channel, outcome).inc()
    if seconds is not None:
        TURN_SECONDS.labels(channel).observe(seconds)
    if outcome in ("error", "busy"):
        ERRORS.labels("rasa" if outcome == "error" else "busy").inc()


def count_error(kind: str) -> None:
    ERRORS.labels(kind).inc()


def allowed(request: Request, token: str) -> bool:
    """With a token: the bearer token (constant-time); without: loopback peers only."""
    if token:
        scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
    return is_loopback(request.client.host if request.client else None)


def _waiting_handoffs(database: Database) -> int:
    from bot.handoff.models import Handoff

    with database.session() as session:
        return session.scalar(select(func.count()).select_from(Handoff).where(Handoff.status == "waiting")) or 0


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """The figures in the Prometheus text format."""
    settings = request.app.state.settings
    token = settings.metrics_token.get_secret_value()
    if not allowed(request, token):
        if token:
            return JSONResponse({"error": "需要正确的监控令牌（Authorization: Bearer …）", "code": "unauthorized"}, status_code=401)
        return JSONResponse({"error": "监控接口只接受本机访问；远程采集请设置 METRICS_TOKEN", "code": "internal_only"},
                            status_code=403)
    from knowledge.service import version

    services = request.app.state.services
    HANDOFF_QUEUE.set(await run_in_threadpool(_waiting_handoffs, services.database))
    gate = getattr(services.conversations, "gate", None)
    RASA_QUEUE.set(getattr(gate, "waiting", 0) or 0)
    KNOWLEDGE.set(version() or 0)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
