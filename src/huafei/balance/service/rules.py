"""The rules of an amount of balance: the carrier's terms per profile, what a number sold this
month, the checks of an amount, and the platform's receiving numbers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huafei.balance import errors
from huafei.balance.models import BalanceSale, BalanceTerms, ReceivingNumber, SaleState
from huafei.core.days import BEIJING
from huafei.core.money import Money
from huafei.identity.policy import LockoutPolicy
from huafei.rates.errors import BalanceNotOffered

#: how long a verified authorisation lets the seller query, quote and sell
AUTHORISATION_TTL = timedelta(minutes=15)
#: wrong service passwords, wrong codes and numbers the carrier refuses, per seller and per
#: number: the fifth within an hour pauses balance selling for an hour (identity's lockouts)
SELLER_PAUSE = LockoutPolicy("balance_identity_seller", 5, timedelta(hours=1), timedelta(hours=1))
NUMBER_PAUSE = LockoutPolicy("balance_identity_number", 5, timedelta(hours=1), timedelta(hours=1))
#: the flow of the KYC limits a balance sale counts against
BALANCE_SALE = "balance_sale"


def terms_for(session: Session, profile_code: str, carrier: str) -> BalanceTerms:
    """The carrier's terms on the profile; ``BalanceNotOffered`` when there are none."""
    terms = session.get(BalanceTerms, (profile_code, carrier))
    if terms is None:
        raise BalanceNotOffered(
            f"{profile_code} buys no {carrier} balance", profile=profile_code, carrier=carrier
        )
    return terms


def month_start(now: datetime) -> datetime:
    """00:00 of the first day of this Beijing calendar month, in UTC."""
    local = now.astimezone(BEIJING)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def sold_this_month(session: Session, *, phone: str, carrier: str, now: datetime) -> int:
    """Fen of balance the number sold (or is selling) this Beijing month; failed sales excluded."""
    total = session.scalar(
        select(func.coalesce(func.sum(BalanceSale.amount_fen), 0)).where(
            BalanceSale.phone == phone,
            BalanceSale.carrier == carrier,
            BalanceSale.state != SaleState.FAILED.value,
            BalanceSale.created_at >= month_start(now),
        )
    )
    return int(total or 0)


@dataclass(frozen=True, slots=True)
class AmountRoom:
    """What a number may sell now: its balance, the month's cap and what is left of it."""

    balance_fen: int
    terms: BalanceTerms
    sold_this_month_fen: int

    @property
    def monthly_left_fen(self) -> int:
        """What the month's cap leaves."""
        return max(0, self.terms.monthly_limit_fen - self.sold_this_month_fen)

    @property
    def max_amount_fen(self) -> int:
        """The largest whole-unit amount within the balance and the month's cap."""
        top = min(self.balance_fen, self.monthly_left_fen)
        return top - top % self.terms.unit_fen


def check_amount(amount_fen: int, room: AmountRoom) -> None:
    """Raise the typed error of an amount the carrier would not transfer: too small, not a
    whole unit, more than the balance, over the month's cap."""
    terms = room.terms
    if amount_fen < terms.min_amount_fen:
        raise errors.AmountTooSmall(
            f"the smallest transfer is {Money(terms.min_amount_fen).format()}",
            min_amount_fen=terms.min_amount_fen,
        )
    if amount_fen % terms.unit_fen:
        raise errors.AmountNotWholeUnit(
            f"the carrier transfers multiples of {Money(terms.unit_fen).format()}",
            unit_fen=terms.unit_fen,
        )
    if amount_fen > room.balance_fen:
        raise errors.AmountOverBalance(
            f"the number's balance is {Money(room.balance_fen).format()}",
            balance_fen=room.balance_fen,
        )
    if amount_fen > room.monthly_left_fen:
        raise errors.MonthlyLimitExceeded(
            f"the carrier lets a number transfer {Money(terms.monthly_limit_fen).format()} a "
            f"month; {Money(room.monthly_left_fen).format()} is left this month",
            limit_fen=terms.monthly_limit_fen,
            sold_fen=room.sold_this_month_fen,
            left_fen=room.monthly_left_fen,
        )


def receiving_number(session: Session, carrier: str, *, spread_by: int) -> str:
    """One of the carrier's active receiving numbers, spread over the pool by ``spread_by``;
    ``NoReceivingNumber`` when the pool is empty."""
    numbers = list(
        session.scalars(
            select(ReceivingNumber.phone)
            .where(ReceivingNumber.carrier == carrier, ReceivingNumber.active)
            .order_by(ReceivingNumber.id)
        )
    )
    if not numbers:
        raise errors.NoReceivingNumber(carrier=carrier)
    return numbers[spread_by % len(numbers)]


def install_receiving_numbers(
    session: Session, numbers: Mapping[str, Iterable[str]], *, now: datetime
) -> int:
    """Add the carriers' receiving numbers the pool lacks (``{carrier: phones}``); returns how
    many were added."""
    known = set(session.scalars(select(ReceivingNumber.phone)))
    added = [
        ReceivingNumber(carrier=carrier, phone=phone, active=True, created_at=now)
        for carrier, phones in numbers.items()
        for phone in phones
        if phone not in known
    ]
    session.add_all(added)
    session.flush()
    return len(added)
