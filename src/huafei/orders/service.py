"""Submitting cards, cancelling, and reading orders with their timeline.

A submission is checked whole before anything is stored: the face value is one the carrier
sells, every line is parsed (bad lines reported one by one), the same card is not already live,
the seller is not paused for failed cards, the tier limits allow the total, the agreement and
the lawful-source confirmation are given. Then the quote is locked, the batch and one order per
good card are written with their first events, queued for consumption (the queued orders are the
workers' queue) — all in the caller's transaction, so nothing is half-saved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Table, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from huafei.cards.parser import LineError, ParsedCard, parse_batch, parse_card
from huafei.cards.secrets import seal_card
from huafei.carriers.formats import require_face_value
from huafei.carriers.gateway import Carrier
from huafei.core.crypto import Keyring
from huafei.core.db import bulk_insert
from huafei.core.settings import Settings
from huafei.identity import limits
from huafei.orders import errors
from huafei.orders.models import ACTIVE_STATES, Order, OrderBatch, OrderEvent, OrderState
from huafei.orders.state import record_created, record_passed, transition, write_events
from huafei.rates import service as rates
from huafei.rates.models import Lane, Quote

_ORDERS: Table = Order.__table__  # type: ignore[assignment]

CONSUME_JOB = "orders.consume"
CARD_SALE = "card_sale"
#: failure reasons that count as a guessed or stolen card
GUESS_REASONS = ("wrong_pin", "used", "expired")
#: the partial unique index that keeps one live order per card
LIVE_CARD_INDEX = "uq_orders_live_fingerprint"
#: a submission that lost the race for a card's live slot is made again this often at most (each
#: time it lost to a submission that committed in between, so the card is live by then)
LIVE_CARD_RACE_ATTEMPTS = 3


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
        return cls(
            max_failures=settings.guessing_max_failures,
            window=timedelta(minutes=settings.guessing_window_minutes),
            max_failures_per_address=settings.guessing_max_failures_per_address,
        )


@dataclass(frozen=True, slots=True)
class Submission:
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
    batch: OrderBatch
    quote: Quote
    priced: rates.Priced
    orders: list[Order]
    rejected: list[LineError] = field(default_factory=list)


def _actor(owner_ref: str) -> str:
    return owner_ref


def check_guessing(
    session: Session,
    *,
    owner_ref: str,
    device_id: str,
    ip: str,
    now: datetime,
    policy: GuessingPolicy,
) -> None:
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


def submit(
    session: Session,
    submission: Submission,
    *,
    keyring: Keyring,
    now: datetime,
    quote_ttl: timedelta,
    guessing: GuessingPolicy,
) -> SubmissionResult:
    """Check and store a submission (see the module's docstring).

    Two submissions of the same card at the same moment both find it not live and both insert
    it; the partial unique index lets the first commit and refuses the second. The loser's
    attempt is rolled back to a savepoint and made again: the card is live now, so the loser
    gets the answer it would have got a moment later (``already_submitted``, or its order held
    ``blocked`` when the card is another account's) instead of a database error.
    """
    for attempt in range(1, LIVE_CARD_RACE_ATTEMPTS + 1):
        try:
            with session.begin_nested():
                return _submit_once(
                    session,
                    submission,
                    keyring=keyring,
                    now=now,
                    quote_ttl=quote_ttl,
                    guessing=guessing,
                )
        except IntegrityError as exc:
            if attempt == LIVE_CARD_RACE_ATTEMPTS or not _live_card_taken(exc):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _live_card_taken(exc: IntegrityError) -> bool:
    """The insert lost the race for a card's live slot (``uq_orders_live_fingerprint``)."""
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None) == LIVE_CARD_INDEX


def _submit_once(
    session: Session,
    submission: Submission,
    *,
    keyring: Keyring,
    now: datetime,
    quote_ttl: timedelta,
    guessing: GuessingPolicy,
) -> SubmissionResult:
    carrier = submission.carrier
    require_face_value(carrier, submission.face_value_fen)
    check_guessing(
        session,
        owner_ref=submission.owner_ref,
        device_id=submission.device_id,
        ip=submission.ip,
        now=now,
        policy=guessing,
    )
    profile = rates.get_profile(session, submission.profile_code)
    rates.check_single_order_limit(profile, submission.face_value_fen)
    priced = rates.price(
        session,
        profile_code=profile.code,
        carrier=carrier.value,
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

    if submission.cards_text is not None:
        parsed = parse_batch(submission.cards_text, carrier)
        cards, rejected = list(parsed.cards), list(parsed.errors)
    else:
        cards, rejected = [parse_card(carrier, submission.serial or "", submission.pin or "")], []

    sealed = [(card, seal_card(keyring, carrier, card.serial, card.pin)) for card in cards]
    live = _live_owners(session, [s.fingerprint for _, s in sealed])
    accepted: list[tuple[ParsedCard, str, str, bool]] = []
    for card, seal in sealed:
        owner = live.get(seal.fingerprint)
        if owner == submission.owner_ref:
            rejected.append(
                LineError(card.line, "already_submitted", "this card is already in a live order")
            )
            continue
        # The same card from another account: keep it, blocked, for the risk officer.
        accepted.append((card, seal.pin_ciphertext, seal.fingerprint, owner is not None))
    if not accepted:
        raise errors.BatchRejected(
            "no card of the batch can be accepted",
            rejected=[{"line": e.line, "code": e.code, "message": e.message} for e in rejected],
        )

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
        profile_code=profile.code,
        carrier=carrier.value,
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
                "profile_code": profile.code,
                "carrier": carrier.value,
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
    orders = [stored[placeholder] for placeholder in placeholders]
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
    if submission.seller_id is not None:
        limits.record_usages(
            session,
            seller_id=submission.seller_id,
            flow=CARD_SALE,
            usages=[(f"order:{order.id}", order.face_value_fen) for order in queued],
            now=now,
            # The batch is one sale; the limits are checked under a lock on the seller's row.
            one_transaction=True,
            new_refs=True,
        )
    # The queued orders are the workers' consumption queue (``claim_queued``): no job needed.
    session.flush()
    return SubmissionResult(
        batch=batch, quote=quote, priced=priced, orders=orders, rejected=rejected
    )


def claim_queued(session: Session, limit: int) -> list[int]:
    """Up to ``limit`` queued orders, oldest first, locked for this unit of work (other workers
    skip them)."""
    return list(
        session.scalars(
            select(Order.id)
            .where(Order.state == OrderState.QUEUED.value)
            .order_by(Order.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


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


def get_order(session: Session, order_id: int, *, owner_ref: str | None = None) -> Order:
    order = session.get(Order, order_id)
    if order is None or (owner_ref is not None and order.owner_ref != owner_ref):
        raise errors.OrderNotFound(f"order {order_id} does not exist", order_id=order_id)
    return order


def lock_order(session: Session, order_id: int) -> Order | None:
    return session.scalars(
        select(Order).where(Order.id == order_id).with_for_update()
    ).one_or_none()


def lock_orders(session: Session, order_ids: Iterable[int]) -> dict[int, Order]:
    """Lock many orders in one statement, in id order (the order every batch locks in, so two
    batches cannot deadlock); orders that do not exist are left out."""
    ids = sorted(set(order_ids))
    if not ids:
        return {}
    rows = session.scalars(
        select(Order).where(Order.id.in_(ids)).order_by(Order.id).with_for_update()
    )
    return {order.id: order for order in rows}


def timeline(session: Session, order_id: int) -> list[OrderEvent]:
    write_events(session)
    return list(
        session.scalars(
            select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
        )
    )


def list_orders(
    session: Session,
    *,
    owner_ref: str | None,
    states: list[str] | None = None,
    batch_id: int | None = None,
    search: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[Order]:
    query = select(Order)
    if owner_ref is not None:
        query = query.where(Order.owner_ref == owner_ref)
    if states:
        query = query.where(Order.state.in_(states))
    if batch_id is not None:
        query = query.where(Order.batch_id == batch_id)
    if search:
        digits = "".join(ch for ch in search if ch.isdigit())
        conditions = [Order.serial == digits]
        if digits and len(digits) < 12:
            conditions.append(Order.id == int(digits))
        query = query.where(or_(*conditions))
    if before_id is not None:
        query = query.where(Order.id < before_id)
    return list(session.scalars(query.order_by(Order.id.desc()).limit(max(1, min(limit, 200)))))


def cancel(session: Session, order_id: int, *, owner_ref: str, now: datetime) -> Order:
    """Withdraw an order the carrier has not been given yet."""
    order = lock_order(session, order_id)
    if order is None or order.owner_ref != owner_ref:
        raise errors.OrderNotFound(f"order {order_id} does not exist", order_id=order_id)
    if order.order_state not in (OrderState.SUBMITTED, OrderState.REVIEW, OrderState.QUEUED):
        raise errors.NotCancellable(
            f"order {order_id} is {order.state}", order_id=order_id, state=order.state
        )
    transition(session, order, OrderState.CANCELLED, actor=owner_ref, now=now, reason="by seller")
    limits.release_usage(session, ref=f"order:{order.id}")
    return order


def batch_progress(session: Session, batch_id: int, *, owner_ref: str) -> dict[str, int]:
    batch = session.get(OrderBatch, batch_id)
    if batch is None or batch.owner_ref != owner_ref:
        raise errors.OrderNotFound(f"batch {batch_id} does not exist", batch_id=batch_id)
    rows = session.execute(
        select(Order.state, func.count()).where(Order.batch_id == batch_id).group_by(Order.state)
    )
    return {str(row[0]): int(row[1]) for row in rows}


def expire_held(session: Session, *, now: datetime, limit: int = 500) -> int:
    """Orders held for review past their quote's lock are not sent at a stale price: they
    expire (and their limit usage is released); the seller can submit the card again."""
    held = session.scalars(
        select(Order)
        .join(OrderBatch, OrderBatch.id == Order.batch_id)
        .join(Quote, Quote.id == OrderBatch.quote_id)
        .where(Order.state == OrderState.REVIEW.value, Quote.expires_at <= now)
        .limit(limit)
        .with_for_update(of=Order)
    ).all()
    for order in held:
        transition(
            session,
            order,
            OrderState.EXPIRED,
            actor="system",
            now=now,
            reason="the quote expired while the order was held for review",
        )
        limits.release_usage(session, ref=f"order:{order.id}")
    return len(held)
