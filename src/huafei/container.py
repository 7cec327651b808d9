"""The composition root: settings, database, clock, metrics and the adapters, built once."""

from __future__ import annotations

from dataclasses import dataclass, field

from huafei.core.clock import Clock, SystemClock
from huafei.core.crypto import Keyring
from huafei.core.db import Database
from huafei.core.metrics import Metrics
from huafei.core.ratelimit import RateLimiter
from huafei.core.settings import Settings
from huafei.identity.adapters import (
    IdentityVerifier,
    SandboxIdentityVerifier,
    SandboxServicePasswordChecker,
    ServicePasswordChecker,
)
from huafei.sms.sender import SandboxSmsSender, SmsSender


@dataclass
class Container:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    metrics: Metrics = field(default_factory=Metrics)
    #: secrets at rest (card PINs, ID numbers, service passwords), from ``Settings.keyring()``
    keyring: Keyring = field(kw_only=True)
    sms: SmsSender = field(kw_only=True)
    identity_verifier: IdentityVerifier = field(
        kw_only=True, default_factory=SandboxIdentityVerifier
    )
    service_passwords: ServicePasswordChecker = field(
        kw_only=True, default_factory=SandboxServicePasswordChecker
    )
    #: hourly caps (SMS codes, failed sign-ins): Redis when HUAFEI_REDIS_URL is set
    rate_limiter: RateLimiter = field(kw_only=True, default_factory=RateLimiter)


def build_container(
    settings: Settings, *, db: Database | None = None, clock: Clock | None = None
) -> Container:
    database = db or Database(settings.database_url, retries=settings.db_retries)
    the_clock = clock or SystemClock()
    return Container(
        settings=settings,
        db=database,
        clock=the_clock,
        keyring=settings.keyring(),
        # Only sandboxes exist so far; a real provider is picked here from settings.
        sms=SandboxSmsSender(database, the_clock, log_messages=settings.env == "development"),
        identity_verifier=SandboxIdentityVerifier(),
        service_passwords=SandboxServicePasswordChecker(),
        rate_limiter=RateLimiter.for_redis_or_memory(settings.redis_url),
    )
