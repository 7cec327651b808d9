"""The price of carrier balance (话费余额): one rate per carrier in each rate card version.

A balance price is a ``Priced`` and its quote a ``Quote`` of the lane ``balance`` whose face
value is the amount the seller transfers: payout = amount × rate, rounded down to the fen; the
fee is the rest. The rate card's volume tiers apply to cards only (docs/balance.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.core.money import Money, Rate
from huafei.rates import errors
from huafei.rates.models import BalanceRate, Quote, RateCardVersion
from huafei.rates.service import Priced, current_version, get_profile, valid_quote

#: the ``lane`` of a balance quote (cards are quoted in the ``fast`` and ``normal`` lanes)
BALANCE_LANE = "balance"


def balance_rate(session: Session, version: RateCardVersion, carrier: str) -> Rate:
    """The version's rate for ``carrier``'s balance; ``BalanceNotOffered`` when it has none."""
    value = session.scalars(
        select(BalanceRate.rate).where(
            BalanceRate.version_id == version.id, BalanceRate.carrier == carrier
        )
    ).first()
    if value is None:
        raise errors.BalanceNotOffered(
            f"{version.profile_code} buys no {carrier} balance",
            profile=version.profile_code,
            carrier=carrier,
        )
    return Rate(value)


def price_balance(
    session: Session, *, profile_code: str, carrier: str, amount_fen: int, at: datetime
) -> Priced:
    """The price of ``amount_fen`` of ``carrier`` balance on the profile's rate card at ``at``."""
    get_profile(session, profile_code)
    version = current_version(session, profile_code, at)
    rate = balance_rate(session, version, carrier)
    amount = Money(amount_fen)
    payout = rate.apply(amount)
    return Priced(
        profile_code, carrier, amount_fen, BALANCE_LANE, version, rate, payout, amount - payout
    )


def valid_balance_quote(session: Session, quote_id: str, *, owner_ref: str, now: datetime) -> Quote:
    """The owner's balance quote while it is locked; ``QuoteNotFound`` (a card quote too) or
    ``QuoteExpired`` otherwise."""
    quote = valid_quote(session, quote_id, owner_ref=owner_ref, now=now)
    if quote.lane != BALANCE_LANE:
        raise errors.QuoteNotFound(f"quote {quote_id} is not a balance quote")
    return quote


def balance_rates(session: Session, version: RateCardVersion) -> dict[str, Rate]:
    """Every carrier's balance rate in ``version``."""
    rows = session.execute(
        select(BalanceRate.carrier, BalanceRate.rate)
        .where(BalanceRate.version_id == version.id)
        .order_by(BalanceRate.carrier)
    )
    return {str(carrier): Rate(rate) for carrier, rate in rows}
