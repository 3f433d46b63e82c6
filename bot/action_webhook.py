"""Rasa's action endpoint, served by the app: rasa_sdk's executor behind a FastAPI route."""
from __future__ import annotations

import logging
import zlib
import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection, ActionNotFoundException

import actions

logger = logging.getLogger(__name__)
router = APIRouter()
executor = ActionExecutor()
executor.register_package(actions)


@router.post("/webhook", include_in_schema=False)
async def webhook(request: Request) -> JSONResponse:
    """Run the custom action Rasa asks for."""
    body = await request.body()
    if request.headers.get("Content-Encoding") == "deflate":
        body = zlib.decompress(body)
    try:
        action_call = json.loads(body)
    except ValueError:
        return JSONResponse({"error": "请求体不是有效的 JSON"}, status_code=400)
    try:
        result = await executor.run(action_call)
    except ActionExecutionRejection as exc:
        return JSONResponse({"error": exc.message, "action_name": exc.action_name}, status_code=400)
    except ActionNotFoundException as exc:
        logger.error("unknown action %s", exc.action_name)
        return JSONResponse({"error": exc.message, "action_name": exc.action_name}, status_code=404)
    return JSONResponse(result)
