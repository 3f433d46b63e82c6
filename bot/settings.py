"""All settings, from the environment, in one place."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Environment variables (upper-case names) override these defaults; secrets never print."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    rasa_port: int = Field(5005, ge=1, le=65535)
    rasa_url: str = ""  # default http://127.0.0.1:{rasa_port}
    rasa_timeout: float = Field(10.0, gt=0)
    database_url: str = f"sqlite:///{ROOT / 'var' / 'app.db'}"
    max_message_chars: int = 500
    public_url: str = ""  # how citizens reach the app, e.g. https://12345.jiajiang.gov.cn
    log_personal_data: bool = False  # personal data is masked in logs unless this is set
    secret_key: SecretStr = SecretStr("dev-only-change-me")

    @property
    def rasa_base(self) -> str:
        return (self.rasa_url or f"http://127.0.0.1:{self.rasa_port}").rstrip("/")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
