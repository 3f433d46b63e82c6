"""Console accounts: argon2 password hashes, login sessions (back-off after failures: bot/handoff/login_throttle.py).
Plain functions over a db_session, like the rest of the handoff services."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.clock import as_utc, aware
from bot.errors import Conflict, InvalidInput, NotFound
from bot.handoff.models import ROLES, Operator, OperatorSession

if TYPE_CHECKING:
    from bot.db import Database
    from bot.settings import Settings

hasher = PasswordHasher()  # argon2id with the library's recommended parameters
_DUMMY_HASH = hasher.hash("timing-equaliser-for-unknown-usernames")
USERNAME = re.compile(r"^[A-Za-z0-9_.-]{2,32}$")
MIN_PASSWORD = 10


class LoginRefused(Exception):
    """Wrong username or password, or a locked or disabled account; `message` is shown on the login page."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


WRONG = "用户名或密码不正确。"


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"密码至少需要{MIN_PASSWORD}位。")
    if password.isdigit() or password.isalpha():
        raise InvalidInput("密码需同时包含字母和数字（或符号）。")


def create_operator(*, db_session: Session, username: str, password: str, role: str = "operator",
                    display_name: str = "", department: str | None = None) -> Operator:
    """`department` (a code of bot/appeals/routing.yaml) is required for, and only for, the department role."""
    username = username.strip()
    if not USERNAME.match(username):
        raise InvalidInput("用户名只能用2到32位字母、数字、下划线、点或连字符。")
    if role not in ROLES:
        raise InvalidInput(f"角色只能是：{'、'.join(f'{k}（{v}）' for k, v in ROLES.items())}")
    if (role == "department") != bool(department):
        raise InvalidInput("承办部门账号必须指定部门代码（见 bot/appeals/routing.yaml），其他角色不指定部门。")
    check_password_rules(password)
    if db_session.scalar(select(Operator).where(Operator.username == username)) is not None:
        raise Conflict(f"用户名 {username} 已存在。")
    operator = Operator(username=username, display_name=(display_name or username).strip()[:64], role=role,
                        password_hash=hasher.hash(password), department=department or None)
    db_session.add(operator)
    db_session.flush()
    return operator


def set_password(*, db_session: Session, operator_id: int, password: str) -> None:
    check_password_rules(password)
    operator = _get(db_session, operator_id)
    operator.password_hash = hasher.hash(password)
    operator.failed_logins, operator.locked_until = 0, None
    end_sessions(db_session=db_session, operator_id=operator_id)


def set_active(*, db_session: Session, operator_id: int, active: bool) -> Operator:
    operator = _get(db_session, operator_id)
    operator.active = active
    if not active:
        end_sessions(db_session=db_session, operator_id=operator_id)
    db_session.flush()
    return operator


def unlock(*, db_session: Session, operator_id: int) -> Operator:
    operator = _get(db_session, operator_id)
    operator.failed_logins, operator.locked_until = 0, None
    db_session.flush()
    return operator


def _get(db_session: Session, operator_id: int) -> Operator:
    operator = db_session.get(Operator, operator_id)
    if operator is None:
        raise NotFound("没有这个账号。")
    return operator


def list_operators(*, db_session: Session) -> list[Operator]:
    return list(db_session.scalars(select(Operator).order_by(Operator.id)))


def authenticate(*, db_session: Session, username: str, password: str, now: dt.datetime) -> Operator:
    """The operator, or LoginRefused with the same message for an unknown name and a wrong password. Repeated failures
    slow down one name at one address (bot/handoff/login_throttle.py), never the account everywhere."""
    now = as_utc(now)
    operator = db_session.scalar(select(Operator).where(Operator.username == (username or "").strip()))
    if operator is None:
        try:
            hasher.verify(_DUMMY_HASH, password or "x")  # same work as for a real account
        except VerificationError:
            pass
        raise LoginRefused(WRONG)
    try:
        hasher.verify(operator.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        raise LoginRefused(WRONG) from None
    locked_until = aware(operator.locked_until)
    if not operator.active or (locked_until and locked_until > now):
        raise LoginRefused("这个账号已停用，请联系管理员。")
    if hasher.check_needs_rehash(operator.password_hash):
        operator.password_hash = hasher.hash(password)
    operator.failed_logins, operator.locked_until = 0, None
    db_session.flush()
    return operator


@dataclass
class NewSession:
    token: str  # goes into the cookie, never stored
    csrf_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(*, db_session: Session, operator_id: int, now: dt.datetime, ip: str = "") -> NewSession:
    now = as_utc(now)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    db_session.add(OperatorSession(id=_digest(token), operator_id=operator_id, csrf_token=csrf, created_at=now,
                                   last_seen_at=now, ip=ip[:64]))
    _get(db_session, operator_id).last_seen_at = now  # on duty from now on (presence)
    db_session.flush()
    return NewSession(token, csrf)


def session_for(*, db_session: Session, token: str, now: dt.datetime, idle_minutes: float,
                max_hours: float) -> tuple[OperatorSession, Operator] | None:
    """The live session and its active operator, or None (unknown, expired, idle too long, account disabled)."""
    now = as_utc(now)
    if not token:
        return None
    row = db_session.get(OperatorSession, _digest(token))
    if row is None:
        return None
    operator = db_session.get(Operator, row.operator_id)
    expired = aware(row.created_at) + dt.timedelta(hours=max_hours) < now
    idle = aware(row.last_seen_at) + dt.timedelta(minutes=idle_minutes) < now
    locked = operator is not None and operator.locked_until is not None and aware(operator.locked_until) > now
    if operator is None or not operator.active or locked or expired or idle:
        db_session.delete(row)
        db_session.flush()
        return None
    if (now - aware(row.last_seen_at)).total_seconds() > 15:  # keep writes rare: the console polls every few seconds
        row.last_seen_at = now
        operator.last_seen_at = now
    return row, operator


def end_session(*, db_session: Session, token: str) -> None:
    """Log out: the session ends and the operator no longer counts as on duty."""
    row = db_session.get(OperatorSession, _digest(token))
    if row is not None:
        _get(db_session, row.operator_id).last_seen_at = None
        db_session.delete(row)
        db_session.flush()


def end_sessions(*, db_session: Session, operator_id: int) -> None:
    db_session.execute(delete(OperatorSession).where(OperatorSession.operator_id == operator_id))


def bootstrap_admin(database: Database, settings: Settings) -> bool:
    """At start: create CONSOLE_ADMIN_USER as an admin when no account has that name (never overwrites one)."""
    username, password = settings.console_admin_user, settings.console_admin_password.get_secret_value()
    if not username or not password:
        return False
    with database.session() as session:
        if session.scalar(select(Operator).where(Operator.username == username)) is not None:
            return False
        create_operator(db_session=session, username=username, password=password, role="admin", display_name="管理员")
        return True
