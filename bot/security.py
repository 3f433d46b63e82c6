"""Guards every request passes before a route sees it, in one ASGI middleware:

- Internal routes (Rasa's action endpoint `/webhook`, `/internal/*`) answer only loopback peers (unless
  INTERNAL_ALLOW_REMOTE) and `/webhook` only with the shared ACTION_TOKEN in `X-Action-Token` (checked in constant
  time, before the body is read): 401 otherwise.
- Bodies are bounded before they are parsed: size (Content-Length and the bytes actually received), compression
  (only Rasa's deflate on `/webhook`, inflated with a cap), JSON nesting depth.
- Security headers on every response; HSTS when PUBLIC_URL is https.
Starlette's BaseHTTPMiddleware would buffer responses and break WebSockets; this is a plain ASGI wrapper instead.
"""
from __future__ import annotations

import hmac
import ipaddress
import json
import re
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY = 128 * 1024  # every public route: the largest legitimate body (a 20,000-character message, \u-escaped) fits
MAX_WEBHOOK_BODY = 16 * 1024 * 1024  # Rasa's action call carries the tracker (kept short by compaction)
MAX_JSON_DEPTH = 32
MAX_ID = 2**63 - 1  # message ids and cursors: SQLite and PostgreSQL bigint range
ACTION_TOKEN_HEADER = "x-action-token"

TOO_LARGE = "请求内容过大，已被拒绝。"
UNSUPPORTED_ENCODING = "不支持压缩的请求内容，请直接发送原文。"
TOO_DEEP = "请求内容嵌套层级过深，已被拒绝。"
BAD_COMPRESSED = "压缩的请求内容无法解开。"
INTERNAL_ONLY = "这是内部接口，只接受本机服务的调用。"
BAD_TOKEN = "内部接口凭证缺失或不正确。"

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def printable(text: str) -> str:
    """The text without control characters (XML 1.0 cannot carry them: TwiML and WeChat replies would break)."""
    return _CONTROL.sub("", text)


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in a JSON text, without parsing it (strings skipped)."""
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    depth = deepest = 0
    for char in brackets:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def loads_bounded(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """json.loads after a depth check: ValueError (never RecursionError) for anything unacceptable."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if json_depth(text) > max_depth:
        raise ValueError(TOO_DEEP)
    return json.loads(text)


def inflate(body: bytes, limit: int) -> bytes:
    """A deflate (zlib) body inflated to at most `limit` bytes; ValueError when larger or not deflate."""
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ValueError(BAD_COMPRESSED) from exc
    if len(data) > limit or inflater.unconsumed_tail:
        raise ValueError(TOO_LARGE)
    return data


def is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:  # not an address (e.g. Starlette's TestClient default "testclient")
        return False


def security_headers(public_url: str) -> list[tuple[bytes, bytes]]:
    headers = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
               (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
               (b"cross-origin-opener-policy", b"same-origin")]
    if public_url.lower().startswith("https://"):
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return headers


async def _refuse(send: Send, status: int, message: str, code: str, extra: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"error": message, "code": code}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode()),
                            *extra]})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """The ASGI middleware described in the module docstring."""

    def __init__(self, app: ASGIApp, *, action_token: str, public_url: str = "", allow_remote: bool = False):
        self.app, self.action_token, self.allow_remote = app, action_token.encode(), allow_remote
        self.headers = security_headers(public_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        extra = self.headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [(k, v) for k, v in extra if k not in present]
                if b"x-frame-options" not in present and b"content-security-policy" not in present:
                    message["headers"].append((b"x-frame-options", b"DENY"))
            await send(message)

        webhook = path == "/webhook"
        if webhook or path.startswith("/internal/"):
            client = scope.get("client")
            if not self.allow_remote and not is_loopback(client[0] if client else None):
                return await _refuse(send_with_headers, 403, INTERNAL_ONLY, "internal_only", [])
            if webhook and not hmac.compare_digest(headers.get(ACTION_TOKEN_HEADER, "").encode(), self.action_token):
                return await _refuse(send_with_headers, 401, BAD_TOKEN, "invalid_token", [])
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send_with_headers)

        limit = MAX_WEBHOOK_BODY if webhook else MAX_BODY
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("identity", "") and not (webhook and encoding == "deflate"):
            return await _refuse(send_with_headers, 415, UNSUPPORTED_ENCODING, "unsupported_encoding", [])
        length = headers.get("content-length", "")
        if length and (not length.isdigit() or int(length) > limit):
            return await _refuse(send_with_headers, 413, TOO_LARGE, "too_large", [])
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return await _refuse(send_with_headers, 413, TOO_LARGE, "too_large", [])
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        if encoding == "deflate":
            try:
                body = inflate(body, limit)
            except ValueError as exc:
                status = 413 if str(exc) == TOO_LARGE else 400
                return await _refuse(send_with_headers, status, str(exc), "bad_body", [])
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() not in (b"content-encoding", b"content-length")]
            scope["headers"].append((b"content-length", str(len(body)).encode()))
        if not webhook and "json" in headers.get("content-type", ""):  # Rasa, the authenticated peer, is trusted here
            if json_depth(body.decode("utf-8", "replace")) > MAX_JSON_DEPTH:
                return await _refuse(send_with_headers, 400, TOO_DEEP, "too_deep", [])

        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send_with_headers)
