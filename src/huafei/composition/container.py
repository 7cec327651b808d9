"""The composition root: settings, database, clock, metrics and the adapters, built once."""

from __future__ import annotations

from dataclasses import dataclass, field

from huafei.carriers.gateway import Carrier, CarrierGateway
from huafei.carriers.http import build_http_gateways, callback_url
from huafei.carriers.service import CallbackInbox
from huafei.core.clock import Clock, SystemClock
from huafei.core.crypto import Keyring
from huafei.core.db import Database
from huafei.core.metrics import Metrics
from huafei.core.ratelimit import RateLimiter
from huafei.core.settings import Settings
from huafei.credit.sending import TopUps
from huafei.identity.adapters import (
    CarrierServicePasswordChecker,
    HttpIdentityVerifier,
    IdentityVerifier,
    SandboxIdentityVerifier,
    SandboxServicePasswordChecker,
    ServicePasswordChecker,
)
from huafei.notices.service import InboxNotifier, Notifier
from huafei.payouts.config import Payouts, build_payouts
from huafei.payouts.escrow import register_escrow_gauges
from huafei.sms.http import HttpSmsSender
from huafei.sms.sender import SandboxSmsSender, SmsSender


@dataclass
class Container:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    metrics: Metrics = field(default_factory=Metrics)
    carriers: dict[Carrier, CarrierGateway] = field(default_factory=dict)
    """The channel of each carrier (the in-process sandboxes' URLs by default)."""
    notifier: Notifier = field(default_factory=InboxNotifier)
    #: secrets at rest (card PINs, ID numbers, service passwords), from ``Settings.keyring()``
    keyring: Keyring = field(kw_only=True)
    sms: SmsSender = field(kw_only=True)
    #: the adapters are chosen by ``build_container`` from settings (sandbox or real client)
    identity_verifier: IdentityVerifier = field(kw_only=True)
    service_passwords: ServicePasswordChecker = field(kw_only=True)
    #: hourly caps (SMS codes, failed sign-ins): Redis when HUAFEI_REDIS_URL is set
    rate_limiter: RateLimiter = field(kw_only=True, default_factory=RateLimiter)
    #: payout seams and adapters: rails, sandboxes, SMS codes, limits, risk, policy
    payouts: Payouts = field(init=False)
    #: where the callback endpoint records channel results (group commit)
    inbox: CallbackInbox = field(init=False)
    #: consumption-credit top-ups through the carrier channels
    topups: TopUps = field(init=False)

    def __post_init__(self) -> None:
        self.payouts = build_payouts(self.settings, self.clock, self.notifier)
        self.inbox = CallbackInbox(self.db)
        self.topups = TopUps(self.db, self.clock, self.keyring, self.carriers, self.notifier)

    def carrier_callback_url(self, carrier: Carrier) -> str:
        """The ``callback_url`` to hand a channel with each consumption request."""
        return callback_url(self.settings.platform_url(), carrier)


def build_container(
    settings: Settings, *, db: Database | None = None, clock: Clock | None = None
) -> Container:
    """Everything wired from ``settings``; ``huafei.config_check`` says beforehand whether the
    settings may run (the CLI refuses to start otherwise)."""
    database = db or Database(settings.database_url, retries=settings.db_retries)
    the_clock = clock or SystemClock()
    carriers: dict[Carrier, CarrierGateway] = dict(build_http_gateways(settings, the_clock))
    container = Container(
        settings=settings,
        db=database,
        clock=the_clock,
        carriers=carriers,
        keyring=settings.keyring(),
        sms=build_sms_sender(settings, database, the_clock),
        identity_verifier=build_identity_verifier(settings, the_clock),
        service_passwords=build_service_password_checker(settings, carriers),
        rate_limiter=RateLimiter.for_redis_or_memory(settings.redis_url),
    )
    register_escrow_gauges(container.metrics, container.db)
    return container


# Each adapter: the real client when its address is configured or the sandboxes are off; the
# in-process sandbox only while sandboxes are on and no address is given.
def build_sms_sender(settings: Settings, db: Database, clock: Clock) -> SmsSender:
    provider = settings.provider("sms")
    if settings.sandboxes and not provider.base_url:
        return SandboxSmsSender(db, clock, log_messages=settings.env == "development")
    return HttpSmsSender.reaching(provider, clock)


def build_identity_verifier(settings: Settings, clock: Clock) -> IdentityVerifier:
    provider = settings.provider("identity")
    if settings.sandboxes and not provider.base_url:
        return SandboxIdentityVerifier()
    return HttpIdentityVerifier.reaching(provider, clock)


def build_service_password_checker(
    settings: Settings, carriers: dict[Carrier, CarrierGateway]
) -> ServicePasswordChecker:
    """The carrier channel of the number, unless the channels are the in-process sandboxes."""
    if settings.sandboxes and not settings.carrier_base_url:
        return SandboxServicePasswordChecker()
    return CarrierServicePasswordChecker(carriers)
