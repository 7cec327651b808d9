"""Reading balance sales (with their timeline and ledger transfers), the live balance rates,
and forgetting the service passwords of authorisations nobody used."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from huafei.balance import errors
from huafei.balance.models import (
    AuthorisationState,
    BalanceAuthorisation,
    BalanceSale,
    BalanceSaleEvent,
    BalanceTerms,
)
from huafei.balance.service.timeline import events
from huafei.core.money import Rate
from huafei.ledger import TransferRecord, transfers_by_ref
from huafei.rates import service as rates
from huafei.rates.balance import balance_rates
from huafei.rates.errors import NoRateCard


@dataclass(frozen=True, slots=True)
class SaleDetail:
    """A sale with its timeline and its ledger transfers."""

    sale: BalanceSale
    timeline: list[BalanceSaleEvent]
    transfers: list[TransferRecord]


def get_sale(session: Session, sale_id: int, *, owner_ref: str) -> BalanceSale:
    """The owner's sale; ``SaleNotFound`` otherwise."""
    sale = session.get(BalanceSale, sale_id)
    if sale is None or sale.owner_ref != owner_ref:
        raise errors.SaleNotFound(sale_id=sale_id)
    return sale


def sale_detail(session: Session, sale_id: int, *, owner_ref: str) -> SaleDetail:
    """The owner's sale with its timeline and ledger transfers, oldest first."""
    sale = get_sale(session, sale_id, owner_ref=owner_ref)
    return SaleDetail(sale, events(session, sale.id), transfers_by_ref(session, sale.ref))


def list_sales(
    session: Session, *, owner_ref: str, before_id: int | None = None, limit: int = 50
) -> list[BalanceSale]:
    """The owner's sales, newest first; keyset paging with ``before_id``, at most 200."""
    query = select(BalanceSale).where(BalanceSale.owner_ref == owner_ref)
    if before_id is not None:
        query = query.where(BalanceSale.id < before_id)
    return list(
        session.scalars(query.order_by(BalanceSale.id.desc()).limit(max(1, min(limit, 200))))
    )


@dataclass(frozen=True, slots=True)
class RateLine:
    """A profile's live balance rate for a carrier, with the carrier's terms."""

    profile_code: str
    carrier: str
    rate: Rate
    terms: BalanceTerms


def live_rates(session: Session, *, at: datetime) -> list[RateLine]:
    """Every profile's balance rate in effect at ``at``, carrier by carrier, with the terms."""
    lines: list[RateLine] = []
    for profile in rates.list_profiles(session):
        try:
            version = rates.current_version(session, profile.code, at)
        except NoRateCard:
            continue
        for carrier, rate in balance_rates(session, version).items():
            terms = session.get(BalanceTerms, (profile.code, carrier))
            if terms is not None:
                lines.append(RateLine(profile.code, carrier, rate, terms))
    return lines


def forget_unused_passwords(session: Session, *, now: datetime) -> int:
    """Authorisations that expired without a sale keep no service password; returns how many
    were forgotten (a sale's authorisation forgets it when the carrier's answer is recorded)."""
    result = session.execute(
        update(BalanceAuthorisation)
        .where(
            BalanceAuthorisation.state != AuthorisationState.USED.value,
            BalanceAuthorisation.expires_at <= now,
            BalanceAuthorisation.service_password_enc.is_not(None),
        )
        .values(service_password_enc=None, updated_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
