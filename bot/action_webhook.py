"""Rasa's action endpoint, served by the app: rasa_sdk's executor behind a FastAPI route.

Only Rasa reaches it: bot/security.py checks the peer (loopback) and the shared ACTION_TOKEN, bounds the body and
inflates Rasa's deflate compression before this route runs. An action that fails still answers: the citizen gets a
polite fallback, the error is logged with the conversation id, and the rest of Rasa's turn goes on."""
from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection, ActionNotFoundException

import actions
from bot.insight import metrics, outcomes
from bot.texts import ACTION_FAILED

logger = logging.getLogger(__name__)
router = APIRouter()
executor = ActionExecutor()
executor.register_package(actions)


def failed_action_response() -> dict[str, Any]:
    """What Rasa gets when an action raised: no events (the conversation state stays as it was), one apology."""
    return {"events": [], "responses": [{"text": ACTION_FAILED}]}


@router.post("/webhook", include_in_schema=False)
async def webhook(request: Request) -> JSONResponse:
    """Run the custom action Rasa asks for."""
    try:
        # Plain json.loads: the peer is Rasa, authenticated by the action token, and the body is bounded in size
        # (bot/security.py); scanning the whole tracker for its nesting depth first doubled the cost of each call.
        action_call = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError, RecursionError):
        return JSONResponse({"error": "请求体不是有效的 JSON"}, status_code=400)
    if not isinstance(action_call, dict):
        return JSONResponse({"error": "请求体应为 JSON 对象"}, status_code=400)
    try:
        result = await executor.run(action_call)
    except ActionExecutionRejection as exc:
        return JSONResponse({"error": exc.message, "action_name": exc.action_name}, status_code=400)
    except ActionNotFoundException as exc:
        logger.error("unknown action %s", exc.action_name)
        return JSONResponse({"error": exc.message, "action_name": exc.action_name}, status_code=404)
    except Exception:  # noqa: BLE001 - an action's bug must not silence the citizen
        logger.exception("action %s failed in conversation %s", action_call.get("next_action"), action_call.get("sender_id"))
        metrics.count_error("action")
        return JSONResponse(failed_action_response())
    return JSONResponse(outcomes.add_note(action_call, result))  # what the turn came to, for the dashboard
