"""One error contract for the whole API.

Every refusal the app makes on purpose is an `AppError`: an HTTP status, a stable `code` for programs and a
`reason` in Chinese for people. One set of handlers (`install`, used by bot/app.py) turns an AppError, FastAPI's
HTTPException and a request that fails validation into the same JSON body, documented in OpenAPI as `ErrorBody`:

    {"error": "<reason, Chinese>", "code": "<stable name>", "reasons": [...] (validation only), "retry_after": n}

Domains raise these (or subclasses named in their own words, e.g. bot.booking.service.SlotFull); views never
translate exceptions themselves.
"""
from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

logger = logging.getLogger(__name__)

CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "too_large", 415: "unsupported_encoding", 422: "invalid_input", 429: "rate_limited",
         500: "internal_error", 503: "unavailable"}
INTERNAL = "服务暂时出了点问题，请稍后再试；急事请拨打12345热线。"
INVALID = "请求格式不正确"


class AppError(Exception):
    """A request the app refuses: `status`, `code` and a Chinese `reason`."""

    status = 400
    code = ""

    def __init__(self, reason: str, *, status: int | None = None, code: str | None = None, retry_after: int | None = None):
        super().__init__(reason)
        self.reason = reason
        if status is not None:
            self.status = status
        self.code = code or self.code or CODES.get(self.status, "error")
        self.retry_after = retry_after


class NotFound(AppError):
    status = 404


class Conflict(AppError):
    status = 409


class NotAllowed(AppError):
    status = 403


class InvalidInput(AppError):
    status = 422


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: str
    code: str
    reasons: list[str] | None = None
    retry_after: int | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {"4XX": {"model": ErrorBody, "description": "请求被拒绝，原因见 error"}}


def error_response(status: int, reason: str, code: str | None = None, **extra: Any) -> JSONResponse:
    body = {"error": reason, "code": code or CODES.get(status, "error"), **{k: v for k, v in extra.items() if v is not None}}
    headers = {"Retry-After": str(extra["retry_after"])} if extra.get("retry_after") is not None else None
    return JSONResponse(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """The app's error handlers: one JSON shape for every error."""

    @app.exception_handler(AppError)
    async def app_error(_request: Request, exc: AppError) -> JSONResponse:
        return error_response(exc.status, exc.reason, exc.code, retry_after=exc.retry_after)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        reason = exc.detail if isinstance(exc.detail, str) else INVALID
        response = error_response(exc.status_code, reason)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        reasons = [f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in exc.errors()]
        return error_response(422, INVALID, "invalid_input", reasons=reasons)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        """Any error no handler expected: logged in full, answered in Chinese without internals."""
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, INTERNAL)
