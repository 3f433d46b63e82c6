"""App factory: channels, JSON API, guide search and Rasa's action endpoint in one process."""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bot import action_webhook, keys, push, runtime
from bot.booking import reminders
from bot.booking import views as booking_views
from bot.booking.schedule import Schedule
from bot.conversations.service import ConversationService
from bot.db import Database
from bot.handoff import accounts, desk
from bot.handoff import views as handoff_views
from bot.rasa_client import RasaClient
from bot.security import RequestGuard
from bot.settings import Settings, get_settings
from channels import guide_pages, webchat
from channels import voice, wechat
from channels import console
from channels.messages import Reply
from knowledge import views as guide_views
from knowledge.service import get_index

logger = logging.getLogger(__name__)


async def push_reminder(conversation_id: str, text: str) -> None:
    """A booking reminder into the citizen's web chat (stored in the log, shown at once or on return)."""
    await push.push(conversation_id, Reply(text=text, sender="system"))


def create_app(settings: Settings | None = None, rasa: RasaClient | None = None) -> FastAPI:
    settings = keys.with_secrets(settings or get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        database = Database(settings.database_url)
        await run_in_threadpool(database.migrate)
        await run_in_threadpool(get_index)  # load the knowledge index before the first question
        client = rasa or RasaClient(settings.rasa_bases, timeout=settings.rasa_timeout)
        app.state.database = database
        app.state.rasa = client
        app.state.conversations = ConversationService(database, client, settings.max_message_chars)
        app.state.conversations.compact_every = settings.tracker_compact_every
        app.state.push_hub = push.install(push.PushHub(database))
        app.state.webchat = webchat.WebChat(settings, database, app.state.conversations, app.state.push_hub)
        reminders.register_sender("webchat", push_reminder)
        app.state.desk = desk.install(desk.Desk(database, client, settings, wechat=getattr(app.state, "wechat", None)))
        app.state.conversations.handoff = app.state.desk
        await run_in_threadpool(accounts.bootstrap_admin, database, settings)
        app.state.schedule = Schedule.load()
        runtime.configure(database, app.state.schedule)
        if settings.twilio_account_sid and settings.twilio_sms_from:
            reminders.register_sender("sms", reminders.twilio_sms_sender(
                settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value(), settings.twilio_sms_from))
        stop = asyncio.Event()
        worker = asyncio.create_task(reminders.run_worker(database, settings.reminder_poll_seconds, stop))
        yield
        stop.set()
        await worker
        push.install(None)
        desk.install(None)
        await client.aclose()
        database.engine.dispose()

    app = FastAPI(title="夹江县12345政务服务智能助手", version="0.1.0", lifespan=lifespan)
    app.include_router(webchat.router)
    app.include_router(guide_pages.router)
    app.include_router(guide_views.router)
    app.include_router(action_webhook.router)
    app.include_router(booking_views.router)
    app.include_router(booking_views.admin_router)
    app.include_router(handoff_views.router)
    app.include_router(handoff_views.admin_router)
    app.include_router(console.router)
    app.state.settings = settings
    if settings.wechat_enabled:
        app.state.wechat = wechat.WeChatChannel(settings)
        app.include_router(wechat.router)
        reminders.register_sender("wechat", app.state.wechat.remind)
    if settings.voice_enabled:
        app.include_router(voice.router)

    app.add_middleware(RequestGuard, action_token=settings.action_token.get_secret_value(), public_url=settings.public_url,
                       allow_remote=settings.internal_allow_remote)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        """Any error no handler expected: logged in full, answered in Chinese without internals."""
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": "服务暂时出了点问题，请稍后再试；急事请拨打12345热线。", "code": "internal_error"}, status_code=500)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        reasons = [f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in exc.errors()]
        return JSONResponse({"error": "请求格式不正确", "reasons": reasons}, status_code=422)

    @app.get("/healthz", tags=["ops"])
    async def healthz(request: Request) -> JSONResponse:
        """Ready only when Rasa answers with a model loaded."""
        rasa_ok = await request.app.state.rasa.ready()
        body = {"status": "ok" if rasa_ok else "starting", "rasa": rasa_ok, "guides": len(get_index().kb.guides)}
        return JSONResponse(body, status_code=200 if rasa_ok else 503)

    return app
