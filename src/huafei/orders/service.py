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
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from huafei.carriers.formats import require_face_value
from huafei.core.crypto import Keyring
from huafei.identity import limits
from huafei.orders import errors
from huafei.orders.guessing import GuessingPolicy, check_guessing
from huafei.orders.models import Order, OrderBatch, OrderEvent, OrderState
from huafei.orders.state import transition, write_events
from huafei.orders.submission import (
    Submission,
    SubmissionResult,
    accept_cards,
    monthly_volume,
    price_submission,
    record_first_events,
    write_batch,
    write_orders,
)
from huafei.rates import service as rates
from huafei.rates.models import Quote

__all__ = [
    "CARD_SALE",
    "CONSUME_JOB",
    "LIVE_CARD_INDEX",
    "LIVE_CARD_RACE_ATTEMPTS",
    "GuessingPolicy",
    "Submission",
    "SubmissionResult",
    "batch_progress",
    "cancel",
    "claim_queued",
    "expire_held",
    "get_order",
    "list_orders",
    "lock_order",
    "lock_orders",
    "monthly_volume",
    "submit",
    "timeline",
]

CONSUME_JOB = "orders.consume"
CARD_SALE = "card_sale"
#: the partial unique index that keeps one live order per card
LIVE_CARD_INDEX = "uq_orders_live_fingerprint"
#: a submission that lost the race for a card's live slot is made again this often at most (each
#: time it lost to a submission that committed in between, so the card is live by then)
LIVE_CARD_RACE_ATTEMPTS = 3


def submit(
    session: Session,
    submission: Submission,
    *,
    keyring: Keyring,
    now: datetime,
    quote_ttl: timedelta,
    guessing: GuessingPolicy,
) -> SubmissionResult:
    """Check and store a submission (see the module's docstring) in the caller's unit of work.

    Returns the batch, its locked quote and price, its orders (queued, or blocked when the card
    is live in another account's order) and the lines refused; raises ``BatchRejected`` when no
    card can be accepted, or the typed error of the first check that fails.

    Two submissions of the same card at the same moment both find it not live and both insert
    it; the partial unique index lets the first commit and refuses the second. The loser's
    attempt is rolled back to a savepoint and made again: the card is live now, so the loser
    gets the answer it would have got a moment later (``already_submitted``, or its order held
    ``blocked`` when the card is another account's) instead of a database error.
    """
    require_face_value(submission.carrier, submission.face_value_fen)
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
    priced = price_submission(session, submission, profile, now)
    for attempt in range(1, LIVE_CARD_RACE_ATTEMPTS + 1):
        try:
            with session.begin_nested():
                return _submit_once(
                    session, submission, priced, keyring=keyring, now=now, quote_ttl=quote_ttl
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
    priced: rates.Priced,
    *,
    keyring: Keyring,
    now: datetime,
    quote_ttl: timedelta,
) -> SubmissionResult:
    """One attempt of ``submit`` once its checks passed: accept the cards not live already, then
    write the batch and its orders."""
    accepted, rejected = accept_cards(session, submission, keyring)
    quote, batch = write_batch(
        session,
        submission,
        priced,
        accepted=accepted,
        rejected=rejected,
        now=now,
        quote_ttl=quote_ttl,
    )
    orders = write_orders(session, submission, batch, quote, accepted, now=now)
    queued = record_first_events(session, submission, orders, accepted, now=now)
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


def get_order(session: Session, order_id: int, *, owner_ref: str | None = None) -> Order:
    """An order by id (the owner's only, when given); ``OrderNotFound`` otherwise."""
    order = session.get(Order, order_id)
    if order is None or (owner_ref is not None and order.owner_ref != owner_ref):
        raise errors.OrderNotFound(f"order {order_id} does not exist", order_id=order_id)
    return order


def lock_order(session: Session, order_id: int) -> Order | None:
    """An order locked for this unit of work, or None."""
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
    """The order's events, oldest first."""
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
    """Orders newest first, filtered by owner, states, batch and a serial or order number;
    keyset paging with ``before_id``, at most 200."""
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
    """How many of the batch's orders are in each state; ``OrderNotFound`` for another owner's."""
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
