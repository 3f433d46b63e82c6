"""Signed conversation tokens for the web chat (itsdangerous): a browser may read and write only the
conversation its token names. Tokens are signed with SECRET_KEY, not encrypted: they carry nothing
but the conversation id."""
from __future__ import annotations

import datetime as dt
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SALT = "jiajiang-12345.webchat.conversation"


class TokenError(Exception):
    """A token is refused; `status` is the HTTP status, `code` a stable name, the message is for citizens."""

    status = 401
    code = "invalid_token"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ForgedToken(TokenError):
    """Missing, malformed, or signed with another key."""

    code = "invalid_token"


class ExpiredToken(TokenError):
    code = "expired_token"


class WrongConversation(TokenError):
    """A valid token for another conversation."""

    status = 403
    code = "forbidden"


FORGED = "会话凭证无效，可能已被篡改或已经失效。为保护您的信息，无法继续这次对话，请开始新的对话。"
EXPIRED = "这次对话已经过期，请开始新的对话。"
FORBIDDEN = "您没有权限查看或发送这个对话的消息，请开始您自己的新对话。"


class ConversationTokens:
    """Issue and check tokens that bind a browser to one conversation id."""

    def __init__(self, secret_key: str, max_age_seconds: int, previous_key: str = "", previous_until: dt.datetime | None = None):
        """`previous_key` (after a rotation) still verifies tokens until `previous_until` (None: while it is set);
        new tokens are always signed with `secret_key`."""
        if not secret_key:
            raise ValueError("SECRET_KEY is empty: the web chat cannot sign conversation tokens")
        self.max_age = max_age_seconds
        self._serializer = URLSafeTimedSerializer(secret_key, salt=SALT)
        self._previous = URLSafeTimedSerializer(previous_key, salt=SALT) if previous_key else None
        if previous_until is not None and previous_until.tzinfo is None:
            previous_until = previous_until.replace(tzinfo=dt.timezone.utc)
        self._previous_until = previous_until

    def _loads(self, token: str) -> Any:
        try:
            return self._serializer.loads(token, max_age=self.max_age)
        except SignatureExpired:
            raise
        except BadSignature:
            in_grace = self._previous_until is None or dt.datetime.now(dt.timezone.utc) < self._previous_until
            if self._previous is None or not in_grace:
                raise
            return self._previous.loads(token, max_age=self.max_age)

    def issue(self, conversation_id: str) -> str:
        return self._serializer.dumps({"c": conversation_id})

    def conversation(self, token: str | None) -> str:
        """The conversation id the token was issued for, or TokenError."""
        if not token or len(token) > 512:
            raise ForgedToken(FORGED)
        try:
            payload = self._loads(token)
        except SignatureExpired as exc:
            raise ExpiredToken(EXPIRED) from exc
        except BadSignature as exc:
            raise ForgedToken(FORGED) from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("c"), str):
            raise ForgedToken(FORGED)
        conversation_id: str = payload["c"]
        return conversation_id

    def verify(self, token: str | None, conversation_id: str) -> str:
        """Check that the token is genuine and names this conversation; returns the id."""
        issued_for = self.conversation(token)
        if issued_for != conversation_id:
            raise WrongConversation(FORBIDDEN)
        return conversation_id
