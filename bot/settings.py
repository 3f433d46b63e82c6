"""All settings, from the environment, in one place."""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.handoff.hours import parse_duty_hours

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Environment variables (upper-case names) override these defaults; secrets never print."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore", hide_input_in_errors=True)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    rasa_port: int = Field(5005, ge=1, le=65535)
    rasa_url: str = ""  # default http://127.0.0.1:{rasa_port}; several Rasa processes: comma-separated URLs
    rasa_timeout: float = Field(10.0, gt=0)
    rasa_replicas: int = Field(1, ge=1, le=16)  # Rasa processes `make run` starts (ports RASA_PORT, RASA_PORT+1, ...)
    # Overload (bot/conversations/admission.py): turns sent to each Rasa process at a time (0 = no limit), turns
    # waiting in line per app process, and the longest wait before a turn is answered "busy, please resend".
    rasa_concurrency: int = Field(8, ge=0, le=1000)
    turn_queue_limit: int = Field(200, ge=0)
    turn_wait_seconds: float = Field(3.0, gt=0, le=60)
    database_url: str = f"sqlite:///{ROOT / 'var' / 'app.db'}"
    # Several app processes (bot/shared.py): push notices, rate limits and WeChat's bookkeeping in Redis,
    # e.g. redis://127.0.0.1:6379/0; empty: in this process (the embedded default). Required in production.
    redis_url: SecretStr = SecretStr("")
    # Rasa processes share their conversations (SQL tracker store, Redis lock store: deploy/rasa-endpoints.yml), so a
    # conversation whose Rasa process is down continues on the next one instead of waiting for it.
    rasa_failover: bool = False
    # Rasa's SQL tracker store (the production profile), e.g. postgresql+psycopg://…/rasa_tracker: the retention job and
    # an admin's erasure delete Rasa's copy of a conversation there. Empty: emptied through Rasa's API instead.
    tracker_database_url: SecretStr = SecretStr("")
    # Personal data (bot/personal_data/): transcripts, bookings' and work orders' personal details older than this many
    # days are erased by a job every RETENTION_POLL_SECONDS (audited); 0 keeps them (the embedded default).
    retention_days: int = Field(0, ge=0, le=36500)
    retention_poll_seconds: float = Field(3600.0, gt=0)
    max_message_chars: int = 500
    tracker_compact_every: int = Field(15, ge=0)  # user turns between compactions of Rasa's tracker; 0 = never
    public_url: str = ""  # how citizens reach the app, e.g. https://12345.jiajiang.gov.cn
    # production: secrets must be set, PostgreSQL and Redis (bot/keys.py, docs/scaling-out.md)
    app_profile: Literal["embedded", "production"] = "embedded"
    var_dir: str = str(ROOT / "var")  # generated keys (embedded default), logs
    appeals_api_token: SecretStr = SecretStr("")  # other county systems call POST /api/appeals/classify with it; empty: console only
    secret_key: SecretStr = SecretStr("")  # signs web chat tokens; empty: generated into var/ (embedded) or refused (production)
    secret_key_previous: SecretStr = SecretStr("")  # after a rotation: still accepted for verification ...
    secret_key_previous_until: datetime | None = None  # ... until this moment (ISO 8601); empty = as long as it is set
    action_token: SecretStr = SecretStr("")  # shared by Rasa and the app's action endpoint; empty: generated as above
    internal_allow_remote: bool = False  # internal routes (/webhook, /internal/*) answer loopback peers only unless set
    admin_token: SecretStr = SecretStr("")  # bearer token for the admin appointment listing; empty = disabled
    twilio_account_sid: str = ""  # SMS reminders through Twilio's Messaging API
    twilio_auth_token: SecretStr = SecretStr("")
    twilio_sms_from: str = ""  # sender number or messaging service SID
    reminder_poll_seconds: float = Field(30.0, gt=0)
    knowledge_poll_seconds: float = Field(2.0, gt=0)  # how often each app process looks for a newly published knowledge version
    knowledge_review_days: int = Field(180, ge=1)  # guides whose 核对日期 is older are listed for review in the console

    # WeChat official account (channels/wechat.py); required keys are checked only when enabled
    wechat_enabled: bool = False
    wechat_token: SecretStr = SecretStr("")  # 令牌(Token) set in the official account's server configuration
    wechat_app_id: str = ""
    wechat_app_secret: SecretStr = SecretStr("")
    wechat_mode: Literal["plaintext", "compatible", "safe"] = "safe"  # 明文模式 / 兼容模式 / 安全模式
    wechat_encoding_aes_key: SecretStr = SecretStr("")  # EncodingAESKey, 43 characters; compatible and safe modes
    wechat_api_base: str = "https://api.weixin.qq.com/cgi-bin/"  # a local fake in tests
    wechat_reply_budget: float = Field(4.0, gt=0, lt=5)  # seconds to answer passively; later: customer-service API
    wechat_text_limit: int = Field(2048, ge=200)  # bytes (UTF-8) per text message; longer answers are split
    wechat_menu: dict[str, str] = {"GUIDE": "/greet", "BOOK": "/book_appointment", "HUMAN": "/request_human"}

    # Phone calls through Twilio Programmable Voice (channels/voice.py); uses TWILIO_AUTH_TOKEN
    voice_enabled: bool = False
    voice_operator_number: str = ""  # the operator line <Dial> transfers to, e.g. +868333333333
    voice_queue: str = ""  # if set, transfer with <Enqueue> into this Twilio queue instead of <Dial>
    voice_name: str = "Polly.Zhiyu"  # Mandarin <Say> voice
    voice_say_language: str = "cmn-CN"
    voice_speech_language: str = "cmn-Hans-CN"  # <Gather language>
    voice_assistant_timeout: float = Field(8.0, gt=0, le=12)  # Twilio waits 15 s for a webhook answer
    voice_min_confidence: float = Field(0.5, ge=0, le=1)  # below this, confirm the item before answering
    voice_silence_timeout: int = Field(5, ge=1, le=30)  # seconds of silence before a reprompt
    voice_max_chars: int = Field(300, ge=50)  # longer answers are cut for the ear

    # Web chat page and widget (channels/webchat.py); tokens are signed with SECRET_KEY
    webchat_token_days: int = Field(30, ge=1)  # how long a browser keeps access to its conversation
    webchat_rate_window: float = Field(60.0, gt=0)  # seconds; the limits below count within it (in process memory)
    webchat_messages_per_conversation: int = Field(15, ge=1)
    webchat_messages_per_ip: int = Field(120, ge=1)  # a service hall or office shares one address
    webchat_sessions_per_ip: int = Field(30, ge=1)  # new conversations
    webchat_frame_ancestors: str = "*"  # CSP frame-ancestors: which sites may embed the chat, e.g. https://www.jiajiang.gov.cn
    push_api_key: SecretStr = SecretStr("")  # bearer key of POST /internal/push/{conversation_id}; empty = off
    metrics_token: SecretStr = SecretStr("")  # bearer token of GET /metrics; empty: loopback peers only (bot/insight/metrics.py)

    # Handoff to people and the operator console (bot/handoff/, channels/console.py); admins change the
    # duty hours, duty days and sensitive words in the console, these are the defaults
    console_admin_user: str = ""  # created as an admin at start when no account has this name
    console_admin_password: SecretStr = SecretStr("")
    console_cookie_secure: bool = True  # Secure session cookies (browsers accept them on https and on localhost)
    console_session_hours: float = Field(12.0, gt=0)  # a login lasts at most this long
    console_idle_minutes: float = Field(30.0, gt=0)  # and ends after this long without activity
    console_max_failed_logins: int = Field(5, ge=1)  # wrong passwords for one name from one address before the back-off
    console_lockout_minutes: float = Field(15.0, gt=0)  # the longest back-off (30 s, then doubling)
    console_reveal_minutes: float = Field(10.0, gt=0)  # an audited reveal of personal data lasts this long
    handoff_duty_hours: str = "08:30-12:00,14:00-18:00"  # Asia/Shanghai; "00:00-24:00" for round the clock
    handoff_duty_days: Literal["workdays", "every_day"] = "workdays"  # workdays: statutory holidays and 调休 from the booking calendar
    handoff_sensitive_words: str = ("自杀,轻生,不想活,跳楼,跳河,喝农药,割腕,报复社会,杀人,爆炸,放火,家暴,被打了,"
                                    "集体上访,上访,堵路,拉横幅,群体事件,贪污,受贿,索贿,行贿")  # comma-separated
    handoff_presence_seconds: float = Field(90.0, gt=0)  # an operator counts as on duty this long after the console last polled
    handoff_default_minutes: float = Field(5.0, gt=0)  # minutes per conversation for the wait estimate, before there is history

    @model_validator(mode="after")
    def _enabled_channels_are_configured(self) -> Settings:
        missing = []
        if self.wechat_enabled:
            required = {"WECHAT_TOKEN": self.wechat_token.get_secret_value(), "WECHAT_APP_ID": self.wechat_app_id,
                        "WECHAT_APP_SECRET": self.wechat_app_secret.get_secret_value()}
            if self.wechat_mode != "plaintext":
                required["WECHAT_ENCODING_AES_KEY"] = self.wechat_encoding_aes_key.get_secret_value()
            missing += [f"{name} (WECHAT_ENABLED=true)" for name, value in required.items() if not value]
            key = self.wechat_encoding_aes_key.get_secret_value()
            if key and len(key) != 43:
                raise ValueError(f"WECHAT_ENCODING_AES_KEY must be the 43 characters shown by WeChat, got {len(key)}")
        if self.voice_enabled:
            if not self.twilio_auth_token.get_secret_value():
                missing.append("TWILIO_AUTH_TOKEN (VOICE_ENABLED=true)")
            if not (self.voice_operator_number or self.voice_queue):
                missing.append("VOICE_OPERATOR_NUMBER or VOICE_QUEUE (VOICE_ENABLED=true)")
        if bool(self.console_admin_user) != bool(self.console_admin_password.get_secret_value()):
            missing.append("CONSOLE_ADMIN_USER and CONSOLE_ADMIN_PASSWORD (both or neither)")
        try:
            parse_duty_hours(self.handoff_duty_hours)
        except ValueError as exc:
            raise ValueError(f"HANDOFF_DUTY_HOURS: {exc}") from None
        if missing:
            raise ValueError("missing settings: " + ", ".join(missing))
        return self

    @property
    def rasa_bases(self) -> list[str]:
        """Every Rasa process's base URL; each conversation is pinned to one (bot/rasa_client.py)."""
        urls = [u.strip().rstrip("/") for u in self.rasa_url.split(",") if u.strip()]
        return urls or [f"http://127.0.0.1:{self.rasa_port}"]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
