"""App factory: channels, JSON API, guide search and Rasa's action endpoint in one process."""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from bot import action_webhook, errors, keys
from bot.appeals import views as appeal_views
from bot.booking import views as booking_views
from bot.handoff import views as handoff_views
from bot.insight import metrics as insight_metrics
from bot.insight import views as insight_views
from bot.personal_data import views as personal_data_views
from bot.privacy import mask_logs
from bot.rasa_client import RasaClient
from bot.security import RequestGuard
from bot.services import Services, use
from bot.settings import Settings, get_settings
from channels import console, guide_pages, insight_pages, voice, webchat, wechat
from knowledge import console_views as knowledge_console
from knowledge import views as guide_views
from knowledge.service import get_index, version

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, rasa: RasaClient | None = None) -> FastAPI:
    settings = keys.with_secrets(settings or get_settings())
    mask_logs()  # no mobile or ID number in the process's log, tracebacks included

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built = await Services.start(settings, rasa)
        app.state.services = built
        # the views' shorthands for the same objects
        app.state.database, app.state.rasa, app.state.conversations = built.database, built.rasa, built.conversations
        app.state.push_hub, app.state.desk, app.state.schedule = built.hub, built.desk, built.schedule
        app.state.webchat = webchat.WebChat(settings, built.database, built.conversations, built.hub, built.shared)
        if settings.wechat_enabled:
            app.state.wechat = wechat.WeChatChannel(settings, built.database, built.shared)
            built.deliveries.register("wechat", app.state.wechat.deliver)
        use(built)
        try:
            yield
        finally:
            use(None)
            await built.aclose()

    # FastAPIOffline: FastAPI whose /docs and /redoc load Swagger UI and ReDoc from the app itself (the assets ship
    # in the fastapi-offline package), not from a public CDN an isolated government network cannot reach.
    app = FastAPIOffline(title="夹江县12345政务服务智能助手", version="0.1.0", lifespan=lifespan, responses=errors.ERROR_RESPONSES)
    app.include_router(webchat.router)
    app.include_router(guide_pages.router)
    app.include_router(guide_views.router)
    app.include_router(action_webhook.router)
    app.include_router(booking_views.router)
    app.include_router(booking_views.admin_router)
    app.include_router(handoff_views.router)
    app.include_router(handoff_views.admin_router)
    app.include_router(appeal_views.router)
    app.include_router(console.router)
    app.include_router(knowledge_console.router)
    app.include_router(insight_metrics.router)
    app.include_router(insight_views.router)
    app.include_router(insight_pages.router)
    app.include_router(personal_data_views.router)
    app.state.settings = settings
    if settings.wechat_enabled:
        app.include_router(wechat.router)
    if settings.voice_enabled:
        app.include_router(voice.router)

    app.add_middleware(RequestGuard, action_token=settings.action_token.get_secret_value(), public_url=settings.public_url,
                       allow_remote=settings.internal_allow_remote)

    errors.install(app)

    @app.get("/healthz", tags=["ops"])
    async def healthz(request: Request) -> JSONResponse:
        """Ready only when Rasa answers with a model loaded."""
        rasa_ok = await request.app.state.rasa.ready()
        body = {"status": "ok" if rasa_ok else "starting", "rasa": rasa_ok, "guides": len(get_index().kb.guides),
                "knowledge_version": version()}
        return JSONResponse(body, status_code=200 if rasa_ok else 503)

    return app
