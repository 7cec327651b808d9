"""Settings from the environment (prefix ``HUAFEI_``); every field is listed in the README."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from huafei.core.crypto import Keyring


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUAFEI_", env_file=".env", extra="ignore")

    env: str = Field(default="development", description="development, test or production")
    database_url: str = Field(
        default="sqlite:///var/huafei.sqlite3",
        description="SQLAlchemy URL; SQLite file or postgresql+psycopg://",
    )
    host: str = Field(default="127.0.0.1", description="address the web server binds")
    port: int = Field(default=8000, description="port the web server binds")
    log_level: str = Field(default="INFO", description="root log level")
    log_json: bool = Field(default=True, description="JSON log lines (false: plain text)")
    sandboxes: bool = Field(
        default=True, description="mount the in-process sandboxes of the external systems"
    )
    redis_url: str | None = Field(
        default=None, description="Redis for shared counters (rate limits); memory when unset"
    )
    db_retries: int = Field(
        default=8, description="retries of a unit of work on deadlock/serialization conflict"
    )
    demo_data: bool = Field(default=True, description="`make run` loads demo data once")
    secret_keys: str = Field(
        default="",
        description="encryption keys `id:base64,id:base64`; empty: development keys",
    )
    active_key_id: str = Field(default="", description="key id new secrets are encrypted with")
    lookup_key: str = Field(
        default="", description="base64 HMAC key for duplicate lookups; empty: development key"
    )
    worker_in_process: bool = Field(
        default=True, description="`huafei serve` runs a background worker thread too"
    )
    worker_lease_seconds: int = Field(
        default=60, description="a job claimed by a worker that died is taken over after this"
    )
    public_url: str = Field(
        default="", description="the platform's address as rails see it; empty: http://HOST:PORT"
    )
    sandbox_dir: str = Field(
        default="var/sandbox", description="where sandboxes write their files (statements)"
    )
    sandbox_rail_settle_seconds: float = Field(
        default=1.0, description="how long a payout-rail sandbox takes to settle a payout"
    )
    payout_rail_url: str = Field(
        default="", description="base URL of the payout rails; empty: PUBLIC_URL/sandbox/rails"
    )
    payout_rail_secrets: str = Field(
        default="", description="HMAC secrets per rail `bank:base64,alipay:base64`; empty: dev"
    )
    payout_rail_timeout_seconds: float = Field(
        default=10.0, description="seconds to wait for a payout rail's answer"
    )
    payout_callback_window_seconds: int = Field(
        default=300, description="accepted clock skew of signed rail messages"
    )
    payout_approval_threshold_fen: int = Field(
        default=2_000_000, description="withdrawals above this (fen) wait for finance approval"
    )
    payout_approvals_required: int = Field(
        default=1, description="finance approvals a withdrawal over the threshold needs"
    )
    payout_poll_seconds: int = Field(
        default=60, description="how often a payout without a result is queried at the rail"
    )
    payout_timing_window_minutes: int = Field(
        default=120, description="payouts this close before midnight may be booked next day"
    )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def keyring(self) -> Keyring:
        return Keyring.from_settings(self.secret_keys, self.active_key_id, self.lookup_key)

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        path = self.database_url.split("///", 1)[1] if "///" in self.database_url else ""
        return Path(path) if path and path != ":memory:" else None


def get_settings() -> Settings:
    return Settings()
