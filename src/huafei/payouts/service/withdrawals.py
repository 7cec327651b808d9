"""Withdrawals: quote, request (limits, risk, hold), four-eyes approval, rejection, cancel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huafei.core.errors import HuafeiError
from huafei.core.idempotency import MAX_KEY_LENGTH, IdempotencyKeyRequired
from huafei.core.money import Money
from huafei.payouts import errors
from huafei.payouts.config import Payouts
from huafei.payouts.models import (
    Withdrawal,
    WithdrawalApproval,
    WithdrawalEvent,
    WithdrawalStatus,
)
from huafei.payouts.seams import counted_today
from huafei.payouts.service.common import (
    add_unique,
    enqueue_send,
    locked,
    record_event,
    refund,
)
from huafei.payouts.service.requesting import (
    active_method,
    approval_reasons,
    hold_and_record,
    insert_withdrawal,
    lock_owner,
    priced_attempt,
)
from huafei.payouts.state import transition
from huafei.wallets.service import get_balances


@dataclass(frozen=True, slots=True)
class QuoteFigures:
    """What the owner sees before confirming: the fee, the total taken from the wallet, what
    arrives, and the limits that apply."""

    method_id: int
    method_kind: str
    profile: str
    amount_fen: int
    fee_fen: int
    fee_rule: str
    total_fen: int
    arrives_fen: int
    available_fen: int
    min_fen: int
    max_single_fen: int
    remaining_today_fen: int
    needs_approval: bool


@dataclass(frozen=True, slots=True)
class Quote(QuoteFigures):
    """A quote's figures, and whether a request for the amount would be refused now."""

    refused: HuafeiError | None = None
    """What a request for this amount would be refused with now (a limit, the minimum, the
    balance), or None. Risk control is not asked: it decides on the request itself."""


def quote_withdrawal(
    session: Session,
    *,
    payouts: Payouts,
    owner_ref: str,
    method_id: int,
    amount_fen: int,
    now: datetime,
) -> Quote:
    """What withdrawing ``amount_fen`` by the method would cost and bring, and what it would be
    refused with now; nothing is written."""
    method = active_method(session, owner_ref, method_id)
    profile, attempt = priced_attempt(payouts, method, amount_fen, now)
    rule = profile.fees[method.method_kind]
    fee = attempt.fee_fen
    spent_today, _count = counted_today(session, owner_ref, now)
    available_fen = get_balances(session, owner_ref).available_fen
    refused: HuafeiError | None = None
    try:
        # The request's own checks, in its order; they only read.
        payouts.limits.check(session, attempt)
        if available_fen < amount_fen + fee:
            raise errors.InsufficientBalance(
                f"available {Money(available_fen)}; this withdrawal needs "
                f"{Money(amount_fen + fee)} including the fee",
                available_fen=available_fen,
                needed_fen=amount_fen + fee,
            )
    except HuafeiError as exc:
        refused = exc
    return Quote(
        method_id=method.id,
        method_kind=method.kind,
        profile=profile.name,
        amount_fen=amount_fen,
        fee_fen=fee,
        fee_rule=rule.describe(),
        total_fen=amount_fen + fee,
        arrives_fen=amount_fen,
        available_fen=available_fen,
        min_fen=profile.limits.min_fen,
        max_single_fen=profile.limits.max_single_fen,
        remaining_today_fen=max(0, profile.limits.max_daily_fen - spent_today),
        needs_approval=amount_fen > payouts.approval_threshold_fen,
        refused=refused,
    )


def largest_amount(session: Session, *, payouts: Payouts, owner_ref: str, method_id: int) -> int:
    """The largest amount the available balance covers by the method, its fee included:
    "withdraw everything" (0 when not even the fee is covered). Limits are left to the quote."""
    method = active_method(session, owner_ref, method_id)
    available_fen = get_balances(session, owner_ref).available_fen
    rule = payouts.policy.profile_for(owner_ref).fees[method.method_kind]
    low, high = 0, max(0, available_fen)  # amount + fee grows with the amount: bisect it
    while low < high:
        middle = (low + high + 1) // 2
        if middle + rule.fee(middle) <= available_fen:
            low = middle
        else:
            high = middle - 1
    return low


#: The length of ``Withdrawal.idempotency_key``: every key the edge accepts.
WITHDRAWAL_KEY_LENGTH = MAX_KEY_LENGTH


def request_withdrawal(
    session: Session,
    *,
    payouts: Payouts,
    owner_ref: str,
    method_id: int,
    amount_fen: int,
    idempotency_key: str,
    now: datetime,
    expected_fee_fen: int | None = None,
    requested_by_staff_id: int | None = None,
) -> tuple[Withdrawal, bool]:
    """Request a withdrawal; returns it and whether it was created now.

    Checks the limits and risk, holds amount + fee in the ledger, and either queues the send job
    or, above the approval threshold (or on a risk review), waits for finance approval. The same
    idempotency key returns the first withdrawal; with other parameters it is a conflict.
    """
    existing = _earlier_request(
        session,
        owner_ref=owner_ref,
        idempotency_key=idempotency_key,
        method_id=method_id,
        amount_fen=amount_fen,
    )
    if existing is not None:
        return existing, False
    lock_owner(session, owner_ref, now)
    method = active_method(session, owner_ref, method_id)
    profile, attempt = priced_attempt(payouts, method, amount_fen, now)
    fee = attempt.fee_fen
    if expected_fee_fen is not None and expected_fee_fen != fee:
        raise errors.FeeChanged(
            f"the fee is now {Money(fee).format()}", fee_fen=fee, expected_fee_fen=expected_fee_fen
        )
    payouts.limits.check(session, attempt)
    review_reasons = approval_reasons(session, payouts, attempt)
    needs_approval = bool(review_reasons)
    withdrawal = insert_withdrawal(
        session,
        payouts,
        method,
        profile,
        attempt,
        idempotency_key=idempotency_key,
        requested_by_staff_id=requested_by_staff_id,
        review_reasons=review_reasons,
    )
    hold_and_record(session, payouts, withdrawal, needs_approval=needs_approval, now=now)
    return withdrawal, True


def _earlier_request(
    session: Session, *, owner_ref: str, idempotency_key: str, method_id: int, amount_fen: int
) -> Withdrawal | None:
    """The withdrawal an earlier request with this key made, if it asked for the same."""
    if not 0 < len(idempotency_key) <= WITHDRAWAL_KEY_LENGTH:
        raise IdempotencyKeyRequired(
            f"a withdrawal's Idempotency-Key has 1 to {WITHDRAWAL_KEY_LENGTH} characters"
        )
    existing = session.scalars(
        select(Withdrawal).where(
            Withdrawal.owner_ref == owner_ref, Withdrawal.idempotency_key == idempotency_key
        )
    ).one_or_none()
    if existing is not None and (
        existing.method_id != method_id or existing.amount_fen != amount_fen
    ):
        raise errors.IdempotencyConflict(
            "this idempotency key was used for another withdrawal", withdrawal_id=existing.id
        )
    return existing


def staff_who_touched(session: Session, withdrawal: Withdrawal) -> set[int]:
    """Every staff member who requested, annotated, reviewed or approved the withdrawal."""
    touched = set(
        session.scalars(
            select(WithdrawalEvent.staff_id).where(
                WithdrawalEvent.withdrawal_id == withdrawal.id,
                WithdrawalEvent.staff_id.is_not(None),
            )
        )
    )
    touched.update(
        session.scalars(
            select(WithdrawalApproval.staff_id).where(
                WithdrawalApproval.withdrawal_id == withdrawal.id
            )
        )
    )
    if withdrawal.requested_by_staff_id is not None:
        touched.add(withdrawal.requested_by_staff_id)
    return {s for s in touched if s is not None}


def _locked_awaiting_approval(session: Session, withdrawal_id: int) -> Withdrawal:
    """The withdrawal, locked; refused unless it waits for finance."""
    withdrawal = locked(session, withdrawal_id)
    if withdrawal.state is not WithdrawalStatus.AWAITING_APPROVAL:
        raise errors.InvalidTransition(
            f"withdrawal {withdrawal_id} is {withdrawal.status}, not awaiting approval",
            status=withdrawal.status,
        )
    return withdrawal


def approve_withdrawal(
    session: Session,
    *,
    withdrawal_id: int,
    staff_id: int,
    now: datetime,
    note: str = "",
) -> Withdrawal:
    """Record a finance approval. Four eyes: the approver must be someone who has not touched
    the request (requested, annotated or approved it). With enough approvals it is sent."""
    withdrawal = _locked_awaiting_approval(session, withdrawal_id)
    if staff_id in staff_who_touched(session, withdrawal):
        raise errors.FourEyesViolation(
            "you already touched this withdrawal; another finance staff member must approve it",
            withdrawal_id=withdrawal_id,
        )
    add_unique(
        session,
        WithdrawalApproval(
            withdrawal_id=withdrawal.id, staff_id=staff_id, note=note, created_at=now
        ),
        errors.FourEyesViolation("you already approved this withdrawal"),
    )
    record_event(
        session, withdrawal, "approved", now=now, actor="staff", staff_id=staff_id, note=note
    )
    approvals = session.scalar(
        select(func.count()).where(WithdrawalApproval.withdrawal_id == withdrawal.id)
    )
    if int(approvals or 0) >= withdrawal.approvals_required:
        transition(withdrawal, WithdrawalStatus.QUEUED, now)
        enqueue_send(session, withdrawal, now=now)
        record_event(session, withdrawal, "queued", now=now)
    withdrawal.updated_at = now
    session.flush()
    return withdrawal


def reject_withdrawal(
    session: Session,
    *,
    payouts: Payouts,
    withdrawal_id: int,
    staff_id: int,
    reason: str,
    now: datetime,
) -> Withdrawal:
    """Finance refuses the withdrawal: the holds are released and the owner is told why."""
    withdrawal = _locked_awaiting_approval(session, withdrawal_id)
    refund(
        session, withdrawal, WithdrawalStatus.REJECTED, now=now, notifier=payouts.notifier,
        code="REJECTED_BY_FINANCE", reason=reason or "未通过财务审核", actor="staff",
        staff_id=staff_id,
    )  # fmt: skip
    return withdrawal


def cancel_withdrawal(
    session: Session, *, payouts: Payouts, owner_ref: str, withdrawal_id: int, now: datetime
) -> Withdrawal:
    """The owner takes a withdrawal back while it waits (for approval or for its send job)."""
    withdrawal = locked(session, withdrawal_id)
    if withdrawal.owner_ref != owner_ref:
        raise errors.WithdrawalNotFound(f"withdrawal {withdrawal_id} not found")
    if withdrawal.state not in (WithdrawalStatus.AWAITING_APPROVAL, WithdrawalStatus.QUEUED):
        raise errors.InvalidTransition(
            f"withdrawal {withdrawal_id} is {withdrawal.status} and can no longer be cancelled",
            status=withdrawal.status,
        )
    refund(
        session, withdrawal, WithdrawalStatus.CANCELLED, now=now, notifier=payouts.notifier,
        code="CANCELLED_BY_OWNER", reason="您已取消", actor="owner",
    )  # fmt: skip
    return withdrawal


def annotate_withdrawal(
    session: Session, *, withdrawal_id: int, staff_id: int, note: str, now: datetime
) -> Withdrawal:
    """A staff note on a withdrawal (a review step); the author can no longer approve it."""
    withdrawal = locked(session, withdrawal_id)
    record_event(session, withdrawal, "note", now=now, actor="staff", staff_id=staff_id, note=note)
    return withdrawal


def get_withdrawal(
    session: Session, withdrawal_id: int, owner_ref: str | None = None
) -> Withdrawal:
    """A withdrawal by id (the owner's only, when given); ``WithdrawalNotFound`` otherwise."""
    withdrawal = session.get(Withdrawal, withdrawal_id)
    if withdrawal is None or (owner_ref is not None and withdrawal.owner_ref != owner_ref):
        raise errors.WithdrawalNotFound(f"withdrawal {withdrawal_id} not found")
    return withdrawal


def list_withdrawals(
    session: Session,
    *,
    owner_ref: str | None = None,
    status: WithdrawalStatus | None = None,
    limit: int = 50,
) -> list[Withdrawal]:
    """Withdrawals newest first, by owner and status, at most 500."""
    query = select(Withdrawal)
    if owner_ref is not None:
        query = query.where(Withdrawal.owner_ref == owner_ref)
    if status is not None:
        query = query.where(Withdrawal.status == status.value)
    return list(
        session.scalars(query.order_by(Withdrawal.id.desc()).limit(max(1, min(limit, 500))))
    )


def history(session: Session, withdrawal_id: int) -> list[WithdrawalEvent]:
    """The withdrawal's events, oldest first."""
    return list(
        session.scalars(
            select(WithdrawalEvent)
            .where(WithdrawalEvent.withdrawal_id == withdrawal_id)
            .order_by(WithdrawalEvent.id)
        )
    )
