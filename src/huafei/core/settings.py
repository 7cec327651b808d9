"""Settings from the environment (prefix ``HUAFEI_``); every field is listed in the README."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from huafei.core.crypto import Keyring

#: The environments the platform knows; anything else is refused at start.
ENVIRONMENTS = ("development", "test", "production")

#: The documented development defaults of shared secrets: fine on a laptop and in tests, and
#: refused by the production check (``huafei config check``), since anyone can read them here.
DEV_CARRIER_SECRETS = {
    "cmcc": "sandbox-cmcc-secret",
    "cucc": "sandbox-cucc-secret",
    "ctcc": "sandbox-ctcc-secret",
}
DEV_SANDBOX_CARD_SECRET = "huafei-sandbox-cards"  # noqa: S105 - refused in production
DEV_SMS_API_KEY = "huafei-dev"
DEV_SMS_API_SECRET = "sandbox-sms-secret"  # noqa: S105 - refused in production
DEV_IDENTITY_API_KEY = "huafei-dev"
DEV_IDENTITY_API_SECRET = "sandbox-identity-secret"  # noqa: S105 - refused in production
#: The outside providers the platform signs its requests to, and where their in-process sandboxes
#: answer when no address is set.
PROVIDER_SANDBOX_PATHS = {"sms": "/sandbox/sms-provider", "identity": "/sandbox/identity-provider"}
Provider = Literal["sms", "identity"]
DEV_PROVIDER_CREDENTIALS: dict[Provider, tuple[str, str]] = {
    "sms": (DEV_SMS_API_KEY, DEV_SMS_API_SECRET),
    "identity": (DEV_IDENTITY_API_KEY, DEV_IDENTITY_API_SECRET),
}


@dataclass(frozen=True, slots=True)
class ProviderAccess:
    """How the platform reaches an outside provider (``Settings.provider``)."""

    #: the configured address (``HUAFEI_SMS_BASE_URL`` …), None when unset
    base_url: str | None
    #: the address to call: the configured one, else where the in-process sandbox would be
    url: str
    key_id: str
    secret: str
    timeout_seconds: float


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
    secret_keys: SecretStr = Field(
        default=SecretStr(""),
        description="encryption keys `id:base64,id:base64`; empty: development keys",
    )
    active_key_id: str = Field(default="", description="key id new secrets are encrypted with")
    lookup_key: SecretStr = Field(
        default=SecretStr(""),
        description="base64 HMAC key for duplicate lookups; empty: development key",
    )
    quote_ttl_seconds: int = Field(
        default=600, description="how long a quote stays locked for a submission"
    )
    guessing_max_failures: int = Field(
        default=5,
        description="failed cards (wrong PIN, used, expired) from one seller or device "
        "that pause its further submissions",
    )
    guessing_max_failures_per_address: int = Field(
        default=50,
        description="failed cards from one network address that pause submissions from it "
        "(many sellers may share an address, so much higher)",
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
    carrier_secret_cmcc: SecretStr = Field(
        default=SecretStr(DEV_CARRIER_SECRETS["cmcc"]),
        description="China Mobile channel's shared HMAC secret",
    )
    carrier_secret_cucc: SecretStr = Field(
        default=SecretStr(DEV_CARRIER_SECRETS["cucc"]),
        description="China Unicom channel's shared HMAC secret",
    )
    carrier_secret_ctcc: SecretStr = Field(
        default=SecretStr(DEV_CARRIER_SECRETS["ctcc"]),
        description="China Telecom channel's shared HMAC secret",
    )
    sandbox_card_secret: SecretStr = Field(
        default=SecretStr(DEV_SANDBOX_CARD_SECRET),
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
    payout_rail_secrets: SecretStr = Field(
        default=SecretStr(""),
        description="HMAC secrets per rail `bank:base64,alipay:base64`; empty: dev",
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
    sms_base_url: str | None = Field(
        default=None,
        description="the SMS provider's HTTP API (docs/identity.md); unset with sandboxes on: "
        "the in-process sandbox outbox",
    )
    sms_api_key: str = Field(
        default=DEV_SMS_API_KEY, description="the platform's key id at the SMS provider"
    )
    sms_api_secret: SecretStr = Field(
        default=SecretStr(DEV_SMS_API_SECRET),
        description="HMAC secret signing requests to the SMS provider",
    )
    sms_timeout_seconds: float = Field(
        default=10.0, gt=0, description="how long a call to the SMS provider may take"
    )
    identity_base_url: str | None = Field(
        default=None,
        description="the real-name + liveness provider's HTTP API (docs/identity.md); unset with "
        "sandboxes on: the in-process sandbox verifier",
    )
    identity_api_key: str = Field(
        default=DEV_IDENTITY_API_KEY, description="the platform's key id at the identity provider"
    )
    identity_api_secret: SecretStr = Field(
        default=SecretStr(DEV_IDENTITY_API_SECRET),
        description="HMAC secret signing requests to the identity provider",
    )
    identity_timeout_seconds: float = Field(
        default=10.0, gt=0, description="how long a call to the identity provider may take"
    )
    api_docs: bool | None = Field(
        default=None,
        description="serve /docs, /redoc and /openapi.json; unset: on except in production",
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="bearer token /metrics requires; unset: open outside production"
    )
    metrics_address: str | None = Field(
        default=None,
        description="`host:port` of a separate /metrics listener that `huafei serve` starts",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="proxies whose X-Forwarded-For/-Proto are trusted (comma-separated, `*`: any)",
    )

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def api_docs_enabled(self) -> bool:
        """``api_docs`` when set; otherwise on everywhere but production."""
        return self.api_docs if self.api_docs is not None else not self.is_production

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
        return secrets[carrier].get_secret_value()

    def provider(self, name: Provider) -> ProviderAccess:
        """The address, key id, secret and timeout of the ``sms`` or ``identity`` provider; with
        no address set, where its in-process sandbox would be (mounted only with sandboxes on)."""
        base_url, key_id, secret, timeout_seconds = {
            "sms": (
                self.sms_base_url,
                self.sms_api_key,
                self.sms_api_secret,
                self.sms_timeout_seconds,
            ),
            "identity": (
                self.identity_base_url,
                self.identity_api_key,
                self.identity_api_secret,
                self.identity_timeout_seconds,
            ),
        }[name]
        url = base_url or f"{self.platform_url()}{PROVIDER_SANDBOX_PATHS[name]}"
        return ProviderAccess(
            base_url=base_url,
            url=url.rstrip("/"),
            key_id=key_id,
            secret=secret.get_secret_value(),
            timeout_seconds=timeout_seconds,
        )

    def keyring(self) -> Keyring:
        """The keys of secrets at rest; development keys are refused in production."""
        return Keyring.from_settings(
            self.secret_keys.get_secret_value(),
            self.active_key_id,
            self.lookup_key.get_secret_value(),
            allow_development=not self.is_production,
        )

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        path = self.database_url.split("///", 1)[1] if "///" in self.database_url else ""
        return Path(path) if path and path != ":memory:" else None


def get_settings() -> Settings:
    return Settings()
