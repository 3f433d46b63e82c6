"""Who is calling the console: the session cookie, roles and CSRF checks, shared by the console pages
(channels/console.py) and its JSON API (bot/handoff/views.py).

- The cookie holds a random token (HttpOnly, SameSite=Strict, Secure unless CONSOLE_COOKIE_SECURE=false,
  `__Host-` prefixed when Secure); the database keeps only its SHA-256.
- Every state-changing request carries the session's CSRF token in `X-CSRF-Token` (the pages put it in a
  <meta> tag for console.js); a request from another origin is refused whatever it carries.
- The login form, before there is a session, uses a double-submit token (a cookie and a hidden field).
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from bot.clock import utcnow
from bot.handoff import accounts
from bot.handoff.login_throttle import LoginThrottle, RedisLoginThrottle
from bot.handoff.models import Operator
from bot.ratelimit import RateLimiter

if TYPE_CHECKING:
    from bot.settings import Settings

CSRF_HEADER = "X-CSRF-Token"
LOGIN_ATTEMPTS, LOGIN_WINDOW = 30, 300.0  # per client address and app, besides the per-account lock-out


def login_limiter(app: FastAPI) -> RateLimiter:
    """The app's limit on login attempts per client address (shared by the app's processes when in Redis, see
    bot/shared.py)."""
    if not hasattr(app.state, "login_attempts"):
        app.state.login_attempts = app.state.services.shared.limiter("console-login", LOGIN_ATTEMPTS, LOGIN_WINDOW)
    limiter: RateLimiter = app.state.login_attempts
    return limiter


def login_throttle(app: FastAPI) -> LoginThrottle | RedisLoginThrottle:
    """The app's back-off after wrong passwords, per name and address (bot/handoff/login_throttle.py)."""
    if not hasattr(app.state, "login_throttle"):
        settings = app.state.settings
        app.state.login_throttle = app.state.services.shared.login_throttle(settings.console_max_failed_logins,
                                                                           settings.console_lockout_minutes * 60)
    throttle: LoginThrottle | RedisLoginThrottle = app.state.login_throttle
    return throttle


@dataclass
class Auth:
    """The logged-in operator of one request."""

    operator: Operator
    csrf_token: str
    ip: str

    @property
    def is_admin(self) -> bool:
        return self.operator.role == "admin"


def cookie_name(settings: Settings) -> str:
    return "__Host-jj_console" if settings.console_cookie_secure else "jj_console"


def login_cookie_name(settings: Settings) -> str:
    return "__Host-jj_login" if settings.console_cookie_secure else "jj_login"


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(cookie_name(settings), token, max_age=int(settings.console_session_hours * 3600), path="/",
                        httponly=True, secure=settings.console_cookie_secure, samesite="strict")


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(cookie_name(settings), path="/", httponly=True, secure=settings.console_cookie_secure, samesite="strict")


def set_login_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(login_cookie_name(settings), token, max_age=3600, path="/", httponly=True,
                        secure=settings.console_cookie_secure, samesite="strict")


def login_token_ok(request: Request, settings: Settings, submitted: str) -> bool:
    expected = request.cookies.get(login_cookie_name(settings), "")
    return bool(expected) and hmac.compare_digest(expected.encode(), (submitted or "").encode()) and same_origin(request)


def same_origin(request: Request) -> bool:
    """False when Origin (or, without it, Referer) names another site than the one requested."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return True  # not a browser (curl, scripts): the CSRF token still has to be right
    if source == "null":
        return False
    parts = urlsplit(source)
    return parts.netloc == request.headers.get("host", request.url.netloc)


async def current(request: Request) -> Auth | None:
    """The request's operator, or None without a live session."""
    settings = request.app.state.settings
    token = request.cookies.get(cookie_name(settings), "")
    if not token:
        return None

    def load() -> tuple[str, Operator] | None:
        with request.app.state.database.session() as session:
            found = accounts.session_for(db_session=session, token=token, now=utcnow(), idle_minutes=settings.console_idle_minutes,
                                         max_hours=settings.console_session_hours)
            return (found[0].csrf_token, found[1]) if found else None

    found = await run_in_threadpool(load)
    if found is None:
        return None
    return Auth(operator=found[1], csrf_token=found[0], ip=client_ip(request))


def check_csrf(request: Request, auth: Auth) -> None:
    """403 unless the request carries the session's CSRF token and comes from this site."""
    submitted = request.headers.get(CSRF_HEADER, "")
    if not submitted or not hmac.compare_digest(submitted.encode(), auth.csrf_token.encode()):
        raise HTTPException(status_code=403, detail="安全校验失败（CSRF 令牌缺失或不正确），请刷新页面后重试。")
    if not same_origin(request):
        raise HTTPException(status_code=403, detail="安全校验失败：请求来自其他网站。")


# --- FastAPI dependencies of the JSON API --------------------------------------------------------

async def signed_in(request: Request) -> Auth:
    """Any console account, a department's included (their views check what they may see)."""
    auth = await current(request)
    if auth is None:
        raise HTTPException(status_code=401, detail="请先登录坐席工作台。")
    return auth


async def signed_in_write(request: Request) -> Auth:
    auth = await signed_in(request)
    check_csrf(request, auth)
    return auth


async def operator_access(request: Request) -> Auth:
    """Any logged-in operator or admin (reading); a department's account sees only its appeals."""
    auth = await signed_in(request)
    if auth.operator.role == "department":
        raise HTTPException(status_code=403, detail="承办部门账号只能查看和办理本部门的诉求工单。")
    return auth


async def operator_write(request: Request) -> Auth:
    """Any logged-in operator or admin, with the CSRF token (changing things)."""
    auth = await operator_access(request)
    check_csrf(request, auth)
    return auth


async def admin_access(request: Request) -> Auth:
    auth = await operator_access(request)
    if not auth.is_admin:
        raise HTTPException(status_code=403, detail="只有管理员可以使用这项功能。")
    return auth


async def admin_write(request: Request) -> Auth:
    auth = await admin_access(request)
    check_csrf(request, auth)
    return auth
