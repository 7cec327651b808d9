"""Step 2 and 3 of a balance sale: what the number may sell, then the locked quote.

``balance_view`` shows the balance the carrier answered, the carrier's monthly cap on the
profile's channel and what the number sold this month, the seller's KYC limits for balance
sales, and the largest amount all of them allow. ``quote`` checks an amount against all of that
and locks its price (rate, payout, fee) for the quote's lifetime, with the settlement time and
where the money goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from huafei.balance import errors
from huafei.balance.models import BalanceAuthorisation
from huafei.balance.service.authorisation import live, owned
from huafei.balance.service.rules import (
    BALANCE_SALE,
    AmountRoom,
    check_amount,
    sold_this_month,
    terms_for,
)
from huafei.core.money import Rate
from huafei.identity import limits
from huafei.orders.settlement import SettlementTime, settlement_time
from huafei.rates import service as rates
from huafei.rates.balance import balance_rate, price_balance
from huafei.rates.errors import BalanceNotOffered
from huafei.rates.models import AgreementVersion, ChannelProfile, Quote


@dataclass(frozen=True, slots=True)
class BalanceView:
    """What a verified number may sell on a profile now."""

    authorisation: BalanceAuthorisation
    profile: ChannelProfile
    room: AmountRoom
    kyc: limits.FlowStatus
    rate: Rate | None
    """The profile's balance rate for the carrier now (None: not bought)."""

    @property
    def kyc_left_fen(self) -> int | None:
        """The tightest KYC window left (None: no limit)."""
        left = [w.remaining_fen for w in self.kyc.windows if w.remaining_fen is not None]
        return min(left) if left else None

    @property
    def max_amount_fen(self) -> int:
        """The largest whole-unit amount the balance, the month's cap and the KYC limits allow
        (0: none)."""
        top = self.room.max_amount_fen
        kyc = self.kyc_left_fen
        if kyc is not None and kyc < top:
            top = kyc - kyc % self.room.terms.unit_fen
        return top if top >= self.room.terms.min_amount_fen else 0


def amount_room(
    session: Session, authorisation: BalanceAuthorisation, profile_code: str, *, now: datetime
) -> AmountRoom:
    """The number's balance (as last answered), the carrier's terms and this month's sales."""
    if authorisation.balance_fen is None:
        raise errors.BalanceNotQueried(authorisation_id=authorisation.id)
    return AmountRoom(
        balance_fen=authorisation.balance_fen,
        terms=terms_for(session, profile_code, authorisation.carrier),
        sold_this_month_fen=sold_this_month(
            session, phone=authorisation.phone, carrier=authorisation.carrier, now=now
        ),
    )


def balance_view(
    session: Session, *, authorisation: BalanceAuthorisation, profile_code: str, now: datetime
) -> BalanceView:
    """The balance, the limits and the largest amount a verified number may sell now."""
    profile = rates.get_profile(session, profile_code)
    room = amount_room(session, authorisation, profile_code, now=now)
    kyc = next(
        status
        for status in limits.limit_status(session, seller_id=authorisation.seller_id, now=now)
        if status.flow == limits.Flow.BALANCE_SALE
    )
    try:
        rate: Rate | None = balance_rate(
            session, rates.current_version(session, profile_code, now), authorisation.carrier
        )
    except BalanceNotOffered:
        rate = None
    return BalanceView(authorisation, profile, room, kyc, rate)


@dataclass(frozen=True, slots=True)
class BalanceQuote:
    """A locked price for an amount of balance, with what the seller must know before selling."""

    quote: Quote
    priced: rates.Priced
    profile: ChannelProfile
    settlement: SettlementTime
    """When the payout becomes available if the transfer is made now."""
    agreement: AgreementVersion
    """The agreement to accept with the sale."""


def check_sale_amount(
    session: Session,
    authorisation: BalanceAuthorisation,
    *,
    profile: ChannelProfile,
    amount_fen: int,
    now: datetime,
) -> None:
    """Every check of an amount: the carrier's unit, minimum, the balance, the month's cap, the
    profile's single-order limit and the seller's KYC limits."""
    check_amount(amount_fen, amount_room(session, authorisation, profile.code, now=now))
    rates.check_single_order_limit(profile, amount_fen)
    limits.check_limit(
        session, seller_id=authorisation.seller_id, flow=BALANCE_SALE, amount_fen=amount_fen,
        now=now,
    )  # fmt: skip


def quote(
    session: Session,
    *,
    authorisation_id: int,
    owner_ref: str,
    profile_code: str,
    amount_fen: int,
    now: datetime,
    ttl: timedelta,
) -> BalanceQuote:
    """Check ``amount_fen`` for the verified number and lock its price for ``ttl``."""
    authorisation = live(owned(session, authorisation_id, owner_ref=owner_ref), now=now)
    profile = rates.get_profile(session, profile_code)
    check_sale_amount(session, authorisation, profile=profile, amount_fen=amount_fen, now=now)
    priced = price_balance(
        session,
        profile_code=profile.code,
        carrier=authorisation.carrier,
        amount_fen=amount_fen,
        at=now,
    )
    locked = rates.lock_quote(session, owner_ref=owner_ref, priced=priced, now=now, ttl=ttl)
    return BalanceQuote(
        quote=locked,
        priced=priced,
        profile=profile,
        settlement=settlement_time(session, profile.code, now),
        agreement=rates.current_agreement(session, now),
    )
