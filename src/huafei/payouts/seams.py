"""The seams other domains plug into: SMS codes (identity), limits (identity tiers), risk.

Each is a ``typing.Protocol`` with a default that is safe on its own; the composition root
(``huafei.composition.container``) picks the implementations.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huafei.core.days import day_end, day_start, local_day
from huafei.core.money import Money
from huafei.identity import limits as tier_limits
from huafei.payouts import errors
from huafei.payouts.models import MethodKind, Withdrawal, WithdrawalStatus
from huafei.payouts.policy import PayoutPolicy

#: The code the SMS sandbox sends to every number (documented in docs/payouts.md).
#: the SMS code purpose that confirms adding a payout method
ADD_METHOD_PURPOSE = "payout_method.add"


@dataclass(frozen=True, slots=True)
class WithdrawalAttempt:
    """What limit and risk checks see of a withdrawal request."""

    owner_ref: str
    profile: str
    method_kind: MethodKind
    method_id: int
    amount_fen: int
    fee_fen: int
    now: datetime


class LimitChecker(Protocol):
    def check(self, session: Session, attempt: WithdrawalAttempt) -> None:
        """Raise a ``PayoutError`` (``LimitExceeded``, ``BelowMinimum``) when over a limit."""
        ...


def counted_today(session: Session, owner_ref: str, now: datetime) -> tuple[int, int]:
    """Amount and number of the owner's withdrawals today (Beijing time) that still count:
    everything except those that failed or were rejected or cancelled."""
    day = local_day(now)
    refunded = [
        WithdrawalStatus.FAILED.value,
        WithdrawalStatus.REJECTED.value,
        WithdrawalStatus.CANCELLED.value,
    ]
    row = session.execute(
        select(func.coalesce(func.sum(Withdrawal.amount_fen), 0), func.count()).where(
            Withdrawal.owner_ref == owner_ref,
            Withdrawal.created_at >= day_start(day),
            Withdrawal.created_at < day_end(day),
            Withdrawal.status.not_in(refunded),
        )
    ).one()
    return int(row[0]), int(row[1])


@dataclass(frozen=True)
class PolicyLimits:
    """The limits of the owner's profile in ``data/policy.json``: minimum, per withdrawal, per
    day (amount and count)."""

    policy: PayoutPolicy

    def check(self, session: Session, attempt: WithdrawalAttempt) -> None:
        limits = self.policy.profiles[attempt.profile].limits
        if attempt.amount_fen < limits.min_fen:
            raise errors.BelowMinimum(
                f"the minimum withdrawal is {Money(limits.min_fen)}",
                min_fen=limits.min_fen,
            )
        if attempt.amount_fen > limits.max_single_fen:
            raise errors.LimitExceeded(
                f"at most {Money(limits.max_single_fen)} per withdrawal",
                limit="single",
                limit_fen=limits.max_single_fen,
            )
        total, count = counted_today(session, attempt.owner_ref, attempt.now)
        if total + attempt.amount_fen > limits.max_daily_fen:
            raise errors.LimitExceeded(
                f"at most {Money(limits.max_daily_fen)} a day; "
                f"{Money(max(0, limits.max_daily_fen - total))} left today",
                limit="daily_amount",
                limit_fen=limits.max_daily_fen,
                remaining_fen=max(0, limits.max_daily_fen - total),
            )
        if count + 1 > limits.max_daily_count:
            raise errors.LimitExceeded(
                f"at most {limits.max_daily_count} withdrawals a day",
                limit="daily_count",
                limit_count=limits.max_daily_count,
            )


WITHDRAWAL_FLOW = "withdrawal"


def seller_id_of(owner_ref: str) -> int | None:
    kind, _, number = owner_ref.partition(":")
    return int(number) if kind == "seller" and number.isdigit() else None


@dataclass(frozen=True)
class TierLimits:
    """The seller's KYC tier limits for withdrawals (identity's limits table): per withdrawal,
    per day, per year. Usage is recorded with the withdrawal and released when it is refunded."""

    def check(self, session: Session, attempt: WithdrawalAttempt) -> None:
        seller_id = seller_id_of(attempt.owner_ref)
        if seller_id is not None:
            tier_limits.check_limit(
                session,
                seller_id=seller_id,
                flow=WITHDRAWAL_FLOW,
                amount_fen=attempt.amount_fen,
                now=attempt.now,
            )


def record_withdrawal_usage(
    session: Session, *, owner_ref: str, withdrawal_id: int, amount_fen: int, now: datetime
) -> None:
    seller_id = seller_id_of(owner_ref)
    if seller_id is not None:
        tier_limits.record_usage(
            session,
            seller_id=seller_id,
            flow=WITHDRAWAL_FLOW,
            amount_fen=amount_fen,
            ref=f"withdrawal:{withdrawal_id}",
            now=now,
        )


def release_withdrawal_usage(session: Session, *, withdrawal_id: int, now: datetime) -> None:
    tier_limits.release_usage(session, ref=f"withdrawal:{withdrawal_id}", now=now)


@dataclass(frozen=True)
class AllLimits:
    """Every checker must pass (policy limits, then e.g. the identity tier's PBoC caps)."""

    checkers: tuple[LimitChecker, ...] = field(default_factory=tuple)

    def check(self, session: Session, attempt: WithdrawalAttempt) -> None:
        for checker in self.checkers:
            checker.check(session, attempt)


class RiskVerdict(enum.StrEnum):
    ALLOW = "allow"
    REVIEW = "review"
    """Hold the money and wait for a finance approval."""
    BLOCK = "block"
    """Refuse the request; nothing is held."""


@dataclass(frozen=True, slots=True)
class RiskDecision:
    verdict: RiskVerdict
    reasons: tuple[str, ...] = ()


class RiskCheck(Protocol):
    def assess(self, session: Session, attempt: WithdrawalAttempt) -> RiskDecision: ...


class AllowAll:
    """The default until the risk engine plugs in."""

    def assess(self, session: Session, attempt: WithdrawalAttempt) -> RiskDecision:  # noqa: ARG002
        return RiskDecision(RiskVerdict.ALLOW)
