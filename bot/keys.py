"""The app's own secrets: the signing key (SECRET_KEY) and the action-endpoint token (ACTION_TOKEN).

On the embedded default, a secret that is not set is generated on first start (`secrets.token_urlsafe`, 256 bits)
and kept in `var/` with file mode 600, so every later start, and Rasa started beside the app, use the same value.
The production profile (APP_PROFILE=production) generates nothing: it refuses to start when a secret is missing,
short, or one of the values that ever shipped as a default, and without its engines (PostgreSQL, Redis). Nothing here prints a secret.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from bot.settings import Settings

# Values that were once defaults or examples: never accepted in production.
KNOWN_DEFAULTS = frozenset({"dev-only-change-me", "change-me", "changeme", "secret", "unit-test-secret", "test"})
MIN_LENGTH = 32
GENERATED = {"secret_key": "secret_key", "action_token": "action_token"}  # setting -> file name in var/


class SecretError(RuntimeError):
    """A secret is missing or unsafe in production, or an engine is not set; the message names the setting."""


def read_or_create(path: Path) -> str:
    """The key kept in `path`, generated first when the file does not exist (mode 600, never overwritten)."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of the same start won the race: use its key
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def check_production(settings: Settings) -> None:
    """Raise SecretError naming every secret that is missing, short or a known default."""
    problems = []
    for name in GENERATED:
        value = getattr(settings, name).get_secret_value()
        if not value:
            problems.append(f"{name.upper()} is not set")
        elif value in KNOWN_DEFAULTS or len(value) < MIN_LENGTH:
            problems.append(f"{name.upper()} is a known default or shorter than {MIN_LENGTH} characters")
    if not settings.database_url.startswith("postgresql"):
        problems.append("DATABASE_URL is not PostgreSQL (postgresql+psycopg://...)")
    if not settings.redis_url.get_secret_value():
        problems.append("REDIS_URL is not set")
    if os.environ.get("CLOCK_START"):
        problems.append("CLOCK_START (a fixed clock for evaluations) is set")
    if problems:
        raise SecretError("APP_PROFILE=production refuses to start: " + "; ".join(problems))


def with_secrets(settings: Settings) -> Settings:
    """The settings with every secret filled in: from the environment, else (embedded default) from `var/`."""
    if settings.app_profile == "production":
        check_production(settings)
        return settings
    updates = {}
    for name, file_name in GENERATED.items():
        if not getattr(settings, name).get_secret_value():
            updates[name] = SecretStr(read_or_create(Path(settings.var_dir) / file_name))
    return settings.model_copy(update=updates) if updates else settings
