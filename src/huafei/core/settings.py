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
    quote_ttl_seconds: int = Field(
        default=600, description="how long a quote stays locked for a submission"
    )
    guessing_max_failures: int = Field(
        default=5,
        description="failed cards (wrong PIN, used, expired) from one seller, device or IP "
        "that pause further submissions",
    )
    guessing_window_minutes: int = Field(
        default=60, description="the window in which failed cards are counted"
    )
    orders_check_after_seconds: float = Field(
        default=30.0,
        gt=0,
        description="how long to wait for a carrier's callback before asking the channel",
    )
    worker_in_process: bool = Field(
        default=True, description="`huafei serve` runs a background worker thread too"
    )
    public_base_url: str | None = Field(
        default=None,
        description="the platform's address as outside services reach it (callback URLs); "
        "unset: http://{host}:{port}",
    )
    carrier_base_url: str | None = Field(
        default=None,
        description="carrier channels live at `{carrier_base_url}/{cmcc|cucc|ctcc}`; "
        "unset: the in-process sandboxes at {public_base_url}/sandbox/carriers",
    )
    carrier_timeout_seconds: float = Field(
        default=10.0, gt=0, description="how long a call to a carrier channel may take"
    )
    carrier_secret_cmcc: str = Field(
        default="sandbox-cmcc-secret", description="China Mobile channel's shared HMAC secret"
    )
    carrier_secret_cucc: str = Field(
        default="sandbox-cucc-secret", description="China Unicom channel's shared HMAC secret"
    )
    carrier_secret_ctcc: str = Field(
        default="sandbox-ctcc-secret", description="China Telecom channel's shared HMAC secret"
    )
    sandbox_card_secret: str = Field(
        default="huafei-sandbox-cards",
        description="secret the carrier sandboxes derive the PINs of their test cards from",
    )
    sandbox_callback_delay_ms: int = Field(
        default=1500, ge=0, description="how long a carrier sandbox takes to consume a card"
    )
    sandbox_state_path: str | None = Field(
        default=None,
        description="file where carrier sandboxes remember consumed cards; memory when unset",
    )
    worker_lease_seconds: int = Field(
        default=60, description="a job claimed by a worker that died is taken over after this"
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
    max_body_bytes: int = Field(
        default=1024 * 1024, gt=0, description="largest request body accepted (413 above)"
    )
    max_batch_body_bytes: int = Field(
        default=8 * 1024 * 1024,
        gt=0,
        description="largest body of the batch routes (pasted card batches, statement files)",
    )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def platform_url(self) -> str:
        """``public_base_url``, or this server's own address when unset."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    def carriers_url(self) -> str:
        """``carrier_base_url``, or the in-process carrier sandboxes when unset."""
        if self.carrier_base_url:
            return self.carrier_base_url.rstrip("/")
        return f"{self.platform_url()}/sandbox/carriers"

    def carrier_secret(self, carrier: str) -> str:
        """The shared secret of a carrier channel (``cmcc``, ``cucc`` or ``ctcc``)."""
        secrets = {
            "cmcc": self.carrier_secret_cmcc,
            "cucc": self.carrier_secret_cucc,
            "ctcc": self.carrier_secret_ctcc,
        }
        return secrets[carrier]

    def keyring(self) -> Keyring:
        return Keyring.from_settings(self.secret_keys, self.active_key_id, self.lookup_key)

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        path = self.database_url.split("///", 1)[1] if "///" in self.database_url else ""
        return Path(path) if path and path != ":memory:" else None


def get_settings() -> Settings:
    return Settings()
