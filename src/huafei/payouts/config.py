"""What the payout services need, built once by the composition root from settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from huafei.core.clock import Clock
from huafei.core.crypto import Keyring
from huafei.core.settings import Settings
from huafei.notices.service import Notifier
from huafei.payouts.errors import UnknownRail
from huafei.payouts.models import RailName
from huafei.payouts.policy import PayoutPolicy, default_policy
from huafei.payouts.rails.base import PayoutRail, rail_secrets
from huafei.payouts.rails.client import HttpRail
from huafei.payouts.rails.sandbox import RailSandbox, build_rail_sandboxes
from huafei.payouts.seams import (
    AllLimits,
    AllowAll,
    LimitChecker,
    PolicyLimits,
    RiskCheck,
    TierLimits,
)


@dataclass
class Payouts:
    policy: PayoutPolicy
    keyring: Keyring
    notifier: Notifier
    rails: dict[RailName, PayoutRail]
    limits: LimitChecker
    risk: RiskCheck
    #: withdrawals above this wait for finance approval
    approval_threshold_fen: int = 2_000_000
    approvals_required: int = 1
    #: how often an accepted payout without a result is queried (lost callbacks)
    poll_interval: timedelta = timedelta(seconds=60)
    #: where the rails send their callbacks: ``{callback_base_url}/callbacks/rails/{rail}``
    callback_base_url: str = "http://127.0.0.1:8000"
    #: a payout completed this close before midnight may be booked by the rail the next day
    timing_window: timedelta = timedelta(minutes=120)
    sandboxes: dict[RailName, RailSandbox] = field(default_factory=dict)

    def rail(self, name: RailName | str) -> PayoutRail:
        try:
            return self.rails[RailName(name)]
        except (ValueError, KeyError):
            raise UnknownRail(f"no payout rail {name!r}", rail=str(name)) from None

    def callback_url(self, rail: RailName) -> str:
        return f"{self.callback_base_url.rstrip('/')}/callbacks/rails/{rail.value}"


def public_url(settings: Settings) -> str:
    return settings.platform_url()


def build_payouts(settings: Settings, clock: Clock, notifier: Notifier) -> Payouts:
    policy = default_policy()
    secrets = rail_secrets(settings.payout_rail_secrets.get_secret_value())
    base = public_url(settings)
    rails_url = settings.payout_rail_url or f"{base}/sandbox/rails"
    rails: dict[RailName, PayoutRail] = {
        rail: HttpRail(
            rail,
            base_url=f"{rails_url.rstrip('/')}/{rail.value}",
            secret=secrets[rail],
            clock=clock,
            timeout_seconds=settings.payout_rail_timeout_seconds,
            window_seconds=settings.payout_callback_window_seconds,
        )
        for rail in RailName
    }
    sandboxes = build_rail_sandboxes(settings, clock) if settings.sandboxes else {}
    return Payouts(
        policy=policy,
        keyring=settings.keyring(),
        notifier=notifier,
        rails=rails,
        limits=AllLimits((PolicyLimits(policy), TierLimits())),
        risk=AllowAll(),
        approval_threshold_fen=settings.payout_approval_threshold_fen,
        approvals_required=settings.payout_approvals_required,
        poll_interval=timedelta(seconds=settings.payout_poll_seconds),
        callback_base_url=base,
        timing_window=timedelta(minutes=settings.payout_timing_window_minutes),
        sandboxes=sandboxes,
    )
