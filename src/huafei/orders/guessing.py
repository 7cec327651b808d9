"""The pause on guessed or stolen cards: too many failed cards from one account, device or
network address within a window pause its submissions (``TooManyFailedCards``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from huafei.core.settings import Settings
from huafei.orders import errors
from huafei.orders.models import Order, OrderState

#: failure reasons that count as a guessed or stolen card
GUESS_REASONS = ("wrong_pin", "used", "expired")


@dataclass(frozen=True, slots=True)
class GuessingPolicy:
    """``max_failures`` failed cards from one seller or one device within ``window`` pause its
    submissions until ``window`` has passed since the oldest of them.

    A network address is a much weaker signal — many sellers share one behind a carrier's or an
    office's NAT — so it pauses only at ``max_failures_per_address``: one seller's bad cards
    must not stop everyone behind the same address.
    """

    max_failures: int = 5
    window: timedelta = timedelta(hours=1)
    max_failures_per_address: int = 50

    @classmethod
    def from_settings(cls, settings: Settings) -> GuessingPolicy:
        """The policy the settings configure."""
        return cls(
            max_failures=settings.guessing_max_failures,
            window=timedelta(minutes=settings.guessing_window_minutes),
            max_failures_per_address=settings.guessing_max_failures_per_address,
        )


def check_guessing(
    session: Session,
    *,
    owner_ref: str,
    device_id: str,
    ip: str,
    now: datetime,
    policy: GuessingPolicy,
) -> None:
    """Raise ``TooManyFailedCards`` while the account, the device or the network address is
    paused for failed cards."""
    since = now - policy.window
    subjects = [
        (column, value, what, threshold)
        for column, value, what, threshold in (
            (Order.owner_ref, owner_ref, "account", policy.max_failures),
            (Order.device_id, device_id, "device", policy.max_failures),
            (Order.ip, ip, "network address", policy.max_failures_per_address),
        )
        if value
    ]
    if not subjects:
        return
    # One look for the account, the device and the address together.
    figures = session.execute(
        select(
            *(
                expression
                for column, value, _, _ in subjects
                for expression in (
                    func.count(case((column == value, 1))),
                    func.min(case((column == value, Order.updated_at))),
                )
            )
        ).where(
            or_(*(column == value for column, value, _, _ in subjects)),
            Order.state == OrderState.FAILED.value,
            Order.failure_reason.in_(GUESS_REASONS),
            Order.updated_at >= since,
        )
    ).one()
    for index, (_, _, what, threshold) in enumerate(subjects):
        count, oldest = figures[2 * index], figures[2 * index + 1]
        if count and count >= threshold:
            until = (oldest or now) + policy.window
            raise errors.TooManyFailedCards(
                f"{count} cards from this {what} failed in the last hour; "
                f"submissions are paused until {until.isoformat()}",
                failed_cards=int(count),
                retry_after_seconds=max(1, int((until - now).total_seconds())),
                paused_until=until.isoformat(),
            )
