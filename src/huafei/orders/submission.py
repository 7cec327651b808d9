"""The steps of a card submission (``service.submit`` runs them in order): price it, accept
its cards, write the batch, its orders and their first events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from huafei.cards.parser import LineError, ParsedCard, parse_batch, parse_card
from huafei.cards.secrets import seal_card
from huafei.carriers.gateway import Carrier
from huafei.core.crypto import Keyring
from huafei.core.db import bulk_insert
from huafei.orders import errors
from huafei.orders.models import ACTIVE_STATES, Order, OrderBatch, OrderState
from huafei.orders.state import record_created, record_passed
from huafei.rates import service as rates
from huafei.rates.models import ChannelProfile, Lane, Quote

_ORDERS: Table = Order.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Submission:
    """What a seller (or a partner for one) submits: one card, or a pasted batch of them."""

    owner_ref: str
    seller_id: int | None
    profile_code: str
    carrier: Carrier
    face_value_fen: int
    lane: Lane
    agreement_version: str
    agreement_sha256: str
    lawful_source_confirmed: bool
    cards_text: str | None = None
    serial: str | None = None
    pin: str | None = None
    ip: str = ""
    device_id: str = ""


@dataclass
class SubmissionResult:
    """A stored submission: its batch, locked quote, price, orders and the lines refused."""

    batch: OrderBatch
    quote: Quote
    priced: rates.Priced
    orders: list[Order]
    rejected: list[LineError] = field(default_factory=list)


def _actor(owner_ref: str) -> str:
    return owner_ref


class Accepted(NamedTuple):
    """A card of the submission that will get an order."""

    card: ParsedCard
    pin_enc: str
    fingerprint: str
    cross_seller: bool
    """Live in another account's order: stored ``blocked`` for the risk officer."""


def price_submission(
    session: Session, submission: Submission, profile: ChannelProfile, now: datetime
) -> rates.Priced:
    """The submission's price in the profile's current rate card."""
    return rates.price(
        session,
        profile_code=profile.code,
        carrier=submission.carrier.value,
        face_value_fen=submission.face_value_fen,
        lane=submission.lane,
        at=now,
        # Only a tiered (阶梯式) profile's rate depends on the month's volume.
        monthly_volume_fen=(
            monthly_volume(session, submission.owner_ref, now)
            if profile.rate_model == "tiered"
            else 0
        ),
    )


def accept_cards(
    session: Session, submission: Submission, keyring: Keyring
) -> tuple[list[Accepted], list[LineError]]:
    """The submission's cards parsed and sealed, and its refused lines; refused whole
    (``BatchRejected``) when no card is left."""
    carrier = submission.carrier
    if submission.cards_text is not None:
        parsed = parse_batch(submission.cards_text, carrier)
        cards, rejected = list(parsed.cards), list(parsed.errors)
    else:
        cards, rejected = [parse_card(carrier, submission.serial or "", submission.pin or "")], []

    sealed = [(card, seal_card(keyring, carrier, card.serial, card.pin)) for card in cards]
    live = _live_owners(session, [s.fingerprint for _, s in sealed])
    accepted: list[Accepted] = []
    for card, seal in sealed:
        owner = live.get(seal.fingerprint)
        if owner == submission.owner_ref:
            rejected.append(
                LineError(card.line, "already_submitted", "this card is already in a live order")
            )
            continue
        # The same card from another account: keep it, blocked, for the risk officer.
        accepted.append(Accepted(card, seal.pin_ciphertext, seal.fingerprint, owner is not None))
    if not accepted:
        raise errors.BatchRejected(
            "no card of the batch can be accepted",
            rejected=[{"line": e.line, "code": e.code, "message": e.message} for e in rejected],
        )
    return accepted, rejected


def write_batch(
    session: Session,
    submission: Submission,
    priced: rates.Priced,
    *,
    accepted: list[Accepted],
    rejected: list[LineError],
    now: datetime,
    quote_ttl: timedelta,
) -> tuple[Quote, OrderBatch]:
    """The agreement accepted, the quote locked and the batch written."""
    acceptance = rates.accept_agreement(
        session,
        owner_ref=submission.owner_ref,
        version=submission.agreement_version,
        sha256=submission.agreement_sha256,
        lawful_source_confirmed=submission.lawful_source_confirmed,
        now=now,
        ip=submission.ip,
        device=submission.device_id,
    )
    quote = rates.lock_quote(
        session, owner_ref=submission.owner_ref, priced=priced, now=now, ttl=quote_ttl
    )
    batch = OrderBatch(
        owner_ref=submission.owner_ref,
        profile_code=priced.profile_code,
        carrier=submission.carrier.value,
        face_value_fen=submission.face_value_fen,
        lane=submission.lane.value,
        quote_id=quote.id,
        agreement_acceptance_id=acceptance.id,
        card_count=len(accepted),
        rejected_lines=len(rejected),
        ip=submission.ip[:64],
        device_id=submission.device_id[:128],
        created_at=now,
    )
    session.add(batch)
    session.flush()
    return quote, batch


def write_orders(
    session: Session,
    submission: Submission,
    batch: OrderBatch,
    quote: Quote,
    accepted: list[Accepted],
    *,
    now: datetime,
) -> list[Order]:
    """One order per accepted card, in the batch's order."""
    placeholders = [f"pending:{batch.id}:{card.line}" for card, *_ in accepted]
    # One bulk insert and then one read, rather than the ORM's multi-row INSERT … RETURNING,
    # whose long text the driver would parse again for every batch.
    bulk_insert(
        session,
        _ORDERS,
        [
            {
                "batch_id": batch.id,
                "owner_ref": submission.owner_ref,
                "line": card.line,
                "profile_code": batch.profile_code,
                "carrier": batch.carrier,
                "face_value_fen": submission.face_value_fen,
                "lane": submission.lane.value,
                "serial": card.serial,
                "pin_enc": pin_enc,
                "fingerprint": fingerprint,
                # A card live in another account's order never holds the card's live slot: it
                # is stored blocked at once, for the risk officer. The others pass the first
                # line of risk control (above) and are stored queued; their timeline shows both
                # steps.
                "state": (OrderState.BLOCKED if cross_seller else OrderState.QUEUED).value,
                "rate_version_id": quote.rate_version_id,
                "rate": quote.rate,
                "quoted_payout_fen": quote.payout_fen,
                # Until a worker hands the card to its channel and names it ``hf<order id>``.
                "consumption_id": placeholder,
                "ip": submission.ip[:64],
                "device_id": submission.device_id[:128],
                "created_at": now,
                "updated_at": now,
            }
            for placeholder, (card, pin_enc, fingerprint, cross_seller) in zip(
                placeholders, accepted, strict=True
            )
        ],
    )
    stored = {
        order.consumption_id: order
        for order in session.scalars(select(Order).where(Order.consumption_id.in_(placeholders)))
    }
    return [stored[placeholder] for placeholder in placeholders]


def record_first_events(
    session: Session,
    submission: Submission,
    orders: list[Order],
    accepted: list[Accepted],
    *,
    now: datetime,
) -> list[Order]:
    """The orders' first timeline events; returns the queued ones (not blocked)."""
    actor = _actor(submission.owner_ref)
    queued: list[Order] = []
    for order, (*_, cross_seller) in zip(orders, accepted, strict=True):
        if cross_seller:
            record_created(
                session,
                order,
                actor="risk",
                now=now,
                reason="the same card was submitted by another account",
            )
            continue
        record_created(session, order, actor=actor, now=now, state=OrderState.SUBMITTED)
        record_passed(session, order, OrderState.SUBMITTED, actor="risk", now=now, reason="allowed")
        queued.append(order)
    return queued


def _live_owners(session: Session, fingerprints: list[str]) -> dict[str, str]:
    if not fingerprints:
        return {}
    rows = session.execute(
        select(Order.fingerprint, Order.owner_ref).where(
            Order.fingerprint.in_(fingerprints), Order.state.in_(ACTIVE_STATES)
        )
    )
    return {str(row[0]): str(row[1]) for row in rows}


def monthly_volume(session: Session, owner_ref: str, now: datetime) -> int:
    """Face value the seller had consumed this calendar month (for tiered rates)."""
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    total = session.scalar(
        select(func.coalesce(func.sum(Order.actual_face_value_fen), 0)).where(
            Order.owner_ref == owner_ref,
            Order.consumed_at >= start,
            Order.state.in_((OrderState.SETTLING.value, OrderState.SETTLED.value)),
        )
    )
    return int(total or 0)
