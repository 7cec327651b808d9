"""Withdrawals: quote, request (limits, risk, hold), four-eyes approval, rejection, cancel."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from huafei.core.days import BEIJING
from huafei.core.errors import HuafeiError
from huafei.core.idempotency import MAX_KEY_LENGTH, IdempotencyKeyRequired
from huafei.core.money import Money
from huafei.ledger.chart import Code, ensure_wallet
from huafei.ledger.models import Account
from huafei.notices.service import NoticeKind
from huafei.payouts import errors
from huafei.payouts.config import Payouts
from huafei.payouts.models import (
    MethodStatus,
    PayoutMethod,
    Withdrawal,
    WithdrawalApproval,
    WithdrawalEvent,
    WithdrawalStatus,
)
from huafei.payouts.seams import (
    RiskVerdict,
    WithdrawalAttempt,
    counted_today,
    record_withdrawal_usage,
)
from huafei.payouts.service import holds
from huafei.payouts.service.common import (
    enqueue_send,
    locked,
    record_event,
    refund,
)
from huafei.payouts.service.methods import get_method
from huafei.payouts.state import transition
from huafei.wallets.service import get_balances


@dataclass(frozen=True, slots=True)
class Quote:
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
    refused: HuafeiError | None = None
    """What a request for this amount would be refused with now (a limit, the minimum, the
    balance), or None. Risk control is not asked: it decides on the request itself."""


def _active_method(session: Session, owner_ref: str, method_id: int) -> PayoutMethod:
    method = get_method(session, owner_ref, method_id)
    if method.status != MethodStatus.ACTIVE.value:
        raise errors.PayoutMethodNotFound(f"payout method {method_id} was removed")
    return method


def quote_withdrawal(
    session: Session,
    *,
    payouts: Payouts,
    owner_ref: str,
    method_id: int,
    amount_fen: int,
    now: datetime,
) -> Quote:
    method = _active_method(session, owner_ref, method_id)
    profile = payouts.policy.profile_for(owner_ref)
    rule = profile.fees[method.method_kind]
    fee = rule.fee(amount_fen)
    spent_today, _count = counted_today(session, owner_ref, now)
    available_fen = get_balances(session, owner_ref).available_fen
    attempt = WithdrawalAttempt(
        owner_ref=owner_ref,
        profile=profile.name,
        method_kind=method.method_kind,
        method_id=method.id,
        amount_fen=amount_fen,
        fee_fen=fee,
        now=now,
    )
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


def _new_payout_id(now: datetime) -> str:
    """``HFW`` + Beijing date + 12 random hex digits: unguessable, sortable by day, 23 chars."""
    return f"HFW{now.astimezone(BEIJING):%Y%m%d}{secrets.token_hex(6).upper()}"


def _lock_owner(session: Session, owner_ref: str, now: datetime) -> None:
    """Serialise one owner's withdrawal requests so two cannot both pass the daily limit."""
    wallet = ensure_wallet(session, owner_ref, now=now)
    session.execute(
        select(Account.id).where(Account.id == wallet[Code.WALLET_AVAILABLE].id).with_for_update()
    )


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
    if not 0 < len(idempotency_key) <= WITHDRAWAL_KEY_LENGTH:
        raise IdempotencyKeyRequired(
            f"a withdrawal's Idempotency-Key has 1 to {WITHDRAWAL_KEY_LENGTH} characters"
        )
    existing = session.scalars(
        select(Withdrawal).where(
            Withdrawal.owner_ref == owner_ref, Withdrawal.idempotency_key == idempotency_key
        )
    ).one_or_none()
    if existing is not None:
        if existing.method_id != method_id or existing.amount_fen != amount_fen:
            raise errors.IdempotencyConflict(
                "this idempotency key was used for another withdrawal", withdrawal_id=existing.id
            )
        return existing, False
    _lock_owner(session, owner_ref, now)
    method = _active_method(session, owner_ref, method_id)
    profile = payouts.policy.profile_for(owner_ref)
    fee = profile.fees[method.method_kind].fee(amount_fen)
    if expected_fee_fen is not None and expected_fee_fen != fee:
        raise errors.FeeChanged(
            f"the fee is now {Money(fee).format()}", fee_fen=fee, expected_fee_fen=expected_fee_fen
        )
    attempt = WithdrawalAttempt(
        owner_ref=owner_ref,
        profile=profile.name,
        method_kind=method.method_kind,
        method_id=method.id,
        amount_fen=amount_fen,
        fee_fen=fee,
        now=now,
    )
    payouts.limits.check(session, attempt)
    decision = payouts.risk.assess(session, attempt)
    if decision.verdict is RiskVerdict.BLOCK:
        raise errors.WithdrawalRefused(
            "risk control refused this withdrawal", reasons=list(decision.reasons)
        )
    review_reasons = []
    if amount_fen > payouts.approval_threshold_fen:
        review_reasons.append(
            f"over the approval threshold of {Money(payouts.approval_threshold_fen).format()}"
        )
    if decision.verdict is RiskVerdict.REVIEW:
        review_reasons.append("risk review: " + "; ".join(decision.reasons))
    needs_approval = bool(review_reasons)
    withdrawal = Withdrawal(
        payout_id=_new_payout_id(now),
        owner_ref=owner_ref,
        method_id=method.id,
        rail=method.method_kind.rail.value,
        profile=profile.name,
        amount_fen=amount_fen,
        fee_fen=fee,
        currency=payouts.policy.currency,
        status=(
            WithdrawalStatus.AWAITING_APPROVAL if needs_approval else WithdrawalStatus.QUEUED
        ).value,
        idempotency_key=idempotency_key,
        requested_by_staff_id=requested_by_staff_id,
        approvals_required=max(1, payouts.approvals_required) if needs_approval else 0,
        review_reason="; ".join(review_reasons)[:255] or None,
        send_attempts=0,
        created_at=now,
        updated_at=now,
    )
    session.add(withdrawal)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise errors.IdempotencyConflict(
            "a request with this idempotency key is in progress"
        ) from None
    holds.hold(session, withdrawal, now=now)
    record_withdrawal_usage(
        session,
        owner_ref=owner_ref,
        withdrawal_id=withdrawal.id,
        amount_fen=amount_fen,
        now=now,
    )
    record_event(
        session,
        withdrawal,
        "requested",
        now=now,
        actor="staff" if requested_by_staff_id is not None else "owner",
        staff_id=requested_by_staff_id,
        amount_fen=amount_fen,
        fee_fen=fee,
        method_id=method.id,
    )
    if needs_approval:
        record_event(
            session, withdrawal, "awaiting_approval", now=now, reason=withdrawal.review_reason
        )
    else:
        enqueue_send(session, withdrawal, now=now)
    payouts.notifier.notify(
        session,
        owner_ref=owner_ref,
        kind=NoticeKind.BALANCE_CHANGE,
        title="余额变动",
        body=(
            f"提现 {withdrawal.payout_id} 已受理：冻结 {Money(withdrawal.total_fen).format()}"
            f"（到账 {Money(amount_fen).format()}，手续费 {Money(fee).format()}）。"
            + ("大额提现需财务审核。" if needs_approval else "")
        ),
        ref=withdrawal.payout_id,
        now=now,
    )
    return withdrawal, True


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
    withdrawal = locked(session, withdrawal_id)
    if withdrawal.state is not WithdrawalStatus.AWAITING_APPROVAL:
        raise errors.InvalidTransition(
            f"withdrawal {withdrawal_id} is {withdrawal.status}, not awaiting approval",
            status=withdrawal.status,
        )
    if staff_id in staff_who_touched(session, withdrawal):
        raise errors.FourEyesViolation(
            "you already touched this withdrawal; another finance staff member must approve it",
            withdrawal_id=withdrawal_id,
        )
    session.add(
        WithdrawalApproval(
            withdrawal_id=withdrawal.id, staff_id=staff_id, note=note, created_at=now
        )
    )
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise errors.FourEyesViolation("you already approved this withdrawal") from None
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
    withdrawal = locked(session, withdrawal_id)
    if withdrawal.state is not WithdrawalStatus.AWAITING_APPROVAL:
        raise errors.InvalidTransition(
            f"withdrawal {withdrawal_id} is {withdrawal.status}, not awaiting approval",
            status=withdrawal.status,
        )
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
    query = select(Withdrawal)
    if owner_ref is not None:
        query = query.where(Withdrawal.owner_ref == owner_ref)
    if status is not None:
        query = query.where(Withdrawal.status == status.value)
    return list(
        session.scalars(query.order_by(Withdrawal.id.desc()).limit(max(1, min(limit, 500))))
    )


def history(session: Session, withdrawal_id: int) -> list[WithdrawalEvent]:
    return list(
        session.scalars(
            select(WithdrawalEvent)
            .where(WithdrawalEvent.withdrawal_id == withdrawal_id)
            .order_by(WithdrawalEvent.id)
        )
    )
