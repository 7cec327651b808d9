"""What the payout services need, built once by the composition root from settings."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from huafei.core.clock import Clock
from huafei.core.crypto import Keyring
from huafei.core.settings import Settings
from huafei.notices.service import Notifier
from huafei.payouts.errors import UnknownRail
from huafei.payouts.models import RailName
from huafei.payouts.policy import PayoutPolicy, default_policy
from huafei.payouts.rails.base import PayoutRail
from huafei.payouts.rails.client import HttpRail
from huafei.payouts.rails.sandbox import RailSandbox
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


def configured_rail_secrets(spec: str) -> dict[RailName, bytes]:
    """The secrets ``bank:base64,alipay:base64,…`` names; ``ValueError`` for an unknown rail or
    bad base64 (the message names the rail, never the secret)."""
    given: dict[RailName, bytes] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, encoded = part.partition(":")
        try:
            rail = RailName(name)
        except ValueError:
            raise ValueError(f"unknown rail {name!r}") from None
        try:
            secret = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise ValueError(f"the {name} secret is not valid base64") from None
        if not secret:
            raise ValueError(f"the {name} secret is empty")
        given[rail] = secret
    return given


def development_rail_secret(rail: RailName) -> bytes:
    """Derived from a constant anyone can read: development and tests only."""
    return hashlib.sha256(f"huafei-dev:rail:{rail}".encode()).digest()


def rail_secrets(spec: str) -> dict[RailName, bytes]:
    """``bank:base64,alipay:base64,…``; rails left out get a development secret (which the
    production check refuses)."""
    given = configured_rail_secrets(spec)
    return {rail: given.get(rail) or development_rail_secret(rail) for rail in RailName}


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
    sandboxes = {}
    if settings.sandboxes:
        sandboxes = {
            rail: RailSandbox(
                rail,
                secret=secrets[rail],
                clock=clock,
                statement_dir=Path(settings.sandbox_dir),
                window_seconds=settings.payout_callback_window_seconds,
                settle_seconds=settings.sandbox_rail_settle_seconds,
            )
            for rail in RailName
        }
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
