"""Step 4 of a balance sale, the platform's side: the sale is made and its payout frozen.

``sell`` checks everything again under locks (the authorisation, the seller's row through the
KYC usage), accepts the agreement, writes the sale with its timeline so far (verified, quoted,
agreed, frozen), holds the quoted payout with a pending ledger transfer (额度冻结) and enqueues
the transfer job — one unit of work. The carrier is asked by the job (``tasks.py``), never
inside a transaction.

Ledger (ids ``balance:{id}:…``): ``hold`` is pending, carrier balance inventory → the seller's
pending wallet, for the payout; the transfer's outcome posts it or voids it
(``service/transfer.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.balance import errors
from huafei.balance.models import (
    AuthorisationState,
    BalanceAuthorisation,
    BalanceSale,
    SaleState,
)
from huafei.balance.service.authorisation import live
from huafei.balance.service.quoting import check_sale_amount
from huafei.balance.service.rules import (
    BALANCE_SALE,
    receiving_number,
    sold_this_month,
    terms_for,
)
from huafei.balance.service.timeline import Step, record
from huafei.core.money import Money
from huafei.identity import limits
from huafei.identity.validation import mask_phone
from huafei.jobs.service import enqueue
from huafei.ledger import NewTransfer, transfer
from huafei.ledger.chart import PLATFORM, Code, account_id
from huafei.ledger.models import TransferKind
from huafei.rates import service as rates
from huafei.rates.balance import valid_balance_quote
from huafei.rates.models import Quote

TRANSFER_JOB = "balance.transfer"
#: who the timeline names for the carrier's and the platform's own steps
CARRIER = "carrier"


@dataclass(frozen=True, slots=True)
class SaleRequest:
    """What a seller sends to sell: the verified number, the locked quote, the agreement."""

    owner_ref: str
    seller_id: int
    authorisation_id: int
    quote_id: str
    agreement_version: str
    agreement_sha256: str
    lawful_source_confirmed: bool
    ip: str = ""
    device_id: str = ""


def hold_id(sale: BalanceSale) -> str:
    """The pending transfer that freezes the sale's payout."""
    return f"{sale.ref}:hold"


def sell(session: Session, request: SaleRequest, *, now: datetime) -> BalanceSale:
    """Make the sale and freeze its payout (see the module's docstring); raises the typed
    error of the first check that fails, writing nothing."""
    authorisation = _locked_authorisation(session, request, now=now)
    quote = valid_balance_quote(session, request.quote_id, owner_ref=request.owner_ref, now=now)
    if quote.carrier != authorisation.carrier:
        raise errors.QuoteMismatch(quote_id=quote.id)
    profile = rates.get_profile(session, quote.profile_code)
    check_sale_amount(
        session, authorisation, profile=profile, amount_fen=quote.face_value_fen, now=now
    )
    acceptance = rates.accept_agreement(
        session,
        owner_ref=request.owner_ref,
        version=request.agreement_version,
        sha256=request.agreement_sha256,
        lawful_source_confirmed=request.lawful_source_confirmed,
        now=now,
        ip=request.ip,
        device=request.device_id,
    )
    sale = _write_sale(session, request, authorisation, quote, acceptance.id, now=now)
    _count_against_limits(session, sale, authorisation, profile_code=profile.code, now=now)
    _freeze(session, sale, now=now)
    _record_first_steps(session, sale, authorisation, quote, now=now)
    authorisation.state = AuthorisationState.USED.value
    authorisation.updated_at = now
    enqueue(session, TRANSFER_JOB, {"sale_id": sale.id}, now=now, dedupe_key=f"{sale.ref}:transfer")
    session.flush()
    return sale


def _locked_authorisation(
    session: Session, request: SaleRequest, *, now: datetime
) -> BalanceAuthorisation:
    """The seller's verified authorisation, locked: one sale per authorisation."""
    authorisation = session.scalars(
        select(BalanceAuthorisation)
        .where(BalanceAuthorisation.id == request.authorisation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if authorisation is None or authorisation.owner_ref != request.owner_ref:
        raise errors.AuthorisationNotFound(authorisation_id=request.authorisation_id)
    return live(authorisation, now=now)


def _write_sale(
    session: Session,
    request: SaleRequest,
    authorisation: BalanceAuthorisation,
    quote: Quote,
    acceptance_id: int,
    *,
    now: datetime,
) -> BalanceSale:
    sale = BalanceSale(
        owner_ref=request.owner_ref,
        seller_id=request.seller_id,
        authorisation_id=authorisation.id,
        profile_code=quote.profile_code,
        carrier=authorisation.carrier,
        phone=authorisation.phone,
        to_phone=receiving_number(session, authorisation.carrier, spread_by=authorisation.id),
        amount_fen=quote.face_value_fen,
        quote_id=quote.id,
        rate_version_id=quote.rate_version_id,
        rate=quote.rate,
        payout_fen=quote.payout_fen,
        fee_fen=quote.fee_fen,
        agreement_acceptance_id=acceptance_id,
        state=SaleState.FROZEN.value,
        attempts=0,
        ip=request.ip[:64],
        device_id=request.device_id[:128],
        created_at=now,
        updated_at=now,
    )
    session.add(sale)
    session.flush()
    sale.transfer_id = f"hfb{sale.id}"
    return sale


def _count_against_limits(
    session: Session,
    sale: BalanceSale,
    authorisation: BalanceAuthorisation,
    *,
    profile_code: str,
    now: datetime,
) -> None:
    """The KYC usage (checked again under a lock on the seller's row), then the month's cap
    again with this sale counted: two sales of one number at once cannot pass it together."""
    limits.record_usage(
        session,
        seller_id=sale.seller_id,
        flow=BALANCE_SALE,
        amount_fen=sale.amount_fen,
        ref=sale.ref,
        now=now,
    )
    session.flush()
    sold = sold_this_month(session, phone=sale.phone, carrier=sale.carrier, now=now)
    terms = terms_for(session, profile_code, authorisation.carrier)
    if sold > terms.monthly_limit_fen:
        raise errors.MonthlyLimitExceeded(
            limit_fen=terms.monthly_limit_fen,
            sold_fen=sold - sale.amount_fen,
            left_fen=max(0, terms.monthly_limit_fen - sold + sale.amount_fen),
        )


def _freeze(session: Session, sale: BalanceSale, *, now: datetime) -> None:
    """The pending transfer that holds the payout until the carrier answers."""
    transfer(
        session,
        NewTransfer(
            hold_id(sale),
            account_id(session, Code.CARRIER_BALANCE, PLATFORM, now=now),
            account_id(session, Code.WALLET_PENDING, sale.owner_ref, now=now),
            sale.payout_fen,
            kind=TransferKind.PENDING,
            ref=sale.ref,
            memo="balance sale: payout frozen",
        ),
        now=now,
    )


def _record_first_steps(
    session: Session,
    sale: BalanceSale,
    authorisation: BalanceAuthorisation,
    quote: Quote,
    *,
    now: datetime,
) -> None:
    """The steps before the sale existed, then the freeze, in the order they happened."""
    record(
        session, sale, Step.VERIFIED, actor=CARRIER, now=authorisation.verified_at or now,
        detail=f"{authorisation.carrier} {mask_phone(authorisation.phone)}",
    )  # fmt: skip
    record(
        session, sale, Step.QUOTED, actor=sale.owner_ref, now=quote.created_at,
        detail=f"{quote.id} rate {quote.rate.normalize():f}",
    )  # fmt: skip
    record(session, sale, Step.AGREED, actor=sale.owner_ref, now=now, detail="lawful source")
    record(
        session, sale, Step.FROZEN, actor="platform", now=now,
        detail=f"{Money(sale.payout_fen).format()} held",
    )  # fmt: skip
