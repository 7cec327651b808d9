"""The steps of a withdrawal request (``withdrawals.request_withdrawal`` runs them in order, and
``quote_withdrawal`` the first): the attempt priced, risk asked, the row written, the hold,
events and notice recorded."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.core.days import BEIJING
from huafei.core.money import Money
from huafei.ledger.chart import Code, ensure_wallet
from huafei.ledger.models import Account
from huafei.notices.service import NoticeKind
from huafei.payouts import errors
from huafei.payouts.config import Payouts
from huafei.payouts.models import MethodStatus, PayoutMethod, Withdrawal, WithdrawalStatus
from huafei.payouts.policy import Profile
from huafei.payouts.seams import RiskVerdict, WithdrawalAttempt, record_withdrawal_usage
from huafei.payouts.service import holds
from huafei.payouts.service.common import add_unique, enqueue_send, record_event
from huafei.payouts.service.methods import get_method


def active_method(session: Session, owner_ref: str, method_id: int) -> PayoutMethod:
    """One of the owner's payout methods that is not removed."""
    method = get_method(session, owner_ref, method_id)
    if method.status != MethodStatus.ACTIVE.value:
        raise errors.PayoutMethodNotFound(f"payout method {method_id} was removed")
    return method


def new_payout_id(now: datetime) -> str:
    """``HFW`` + Beijing date + 12 random hex digits: unguessable, sortable by day, 23 chars."""
    return f"HFW{now.astimezone(BEIJING):%Y%m%d}{secrets.token_hex(6).upper()}"


def lock_owner(session: Session, owner_ref: str, now: datetime) -> None:
    """Serialise one owner's withdrawal requests so two cannot both pass the daily limit."""
    wallet = ensure_wallet(session, owner_ref, now=now)
    session.execute(
        select(Account.id).where(Account.id == wallet[Code.WALLET_AVAILABLE].id).with_for_update()
    )


def priced_attempt(
    payouts: Payouts, method: PayoutMethod, amount_fen: int, now: datetime
) -> tuple[Profile, WithdrawalAttempt]:
    """The owner's payout profile and the attempt by ``method`` the limits and risk judge."""
    profile = payouts.policy.profile_for(method.owner_ref)
    fee = profile.fees[method.method_kind].fee(amount_fen)
    attempt = WithdrawalAttempt(
        owner_ref=method.owner_ref,
        profile=profile.name,
        method_kind=method.method_kind,
        method_id=method.id,
        amount_fen=amount_fen,
        fee_fen=fee,
        now=now,
    )
    return profile, attempt


def approval_reasons(session: Session, payouts: Payouts, attempt: WithdrawalAttempt) -> list[str]:
    """Why finance must approve the withdrawal (none: it is sent); refused on a risk block."""
    decision = payouts.risk.assess(session, attempt)
    if decision.verdict is RiskVerdict.BLOCK:
        raise errors.WithdrawalRefused(
            "risk control refused this withdrawal", reasons=list(decision.reasons)
        )
    review_reasons = []
    if attempt.amount_fen > payouts.approval_threshold_fen:
        review_reasons.append(
            f"over the approval threshold of {Money(payouts.approval_threshold_fen).format()}"
        )
    if decision.verdict is RiskVerdict.REVIEW:
        review_reasons.append("risk review: " + "; ".join(decision.reasons))
    return review_reasons


def insert_withdrawal(
    session: Session,
    payouts: Payouts,
    method: PayoutMethod,
    profile: Profile,
    attempt: WithdrawalAttempt,
    *,
    idempotency_key: str,
    requested_by_staff_id: int | None,
    review_reasons: list[str],
) -> Withdrawal:
    """The withdrawal row, queued or awaiting approval; a concurrent request with the same key
    that got there first is a conflict."""
    needs_approval = bool(review_reasons)
    owner_ref, now = attempt.owner_ref, attempt.now
    amount_fen, fee = attempt.amount_fen, attempt.fee_fen
    withdrawal = Withdrawal(
        payout_id=new_payout_id(now),
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
    add_unique(
        session,
        withdrawal,
        errors.IdempotencyConflict("a request with this idempotency key is in progress"),
    )
    return withdrawal


def hold_and_record(
    session: Session,
    payouts: Payouts,
    withdrawal: Withdrawal,
    *,
    needs_approval: bool,
    now: datetime,
) -> None:
    """A new withdrawal's hold, limit usage and events; its send job (or the wait for approval);
    the owner's notice."""
    amount_fen, fee = withdrawal.amount_fen, withdrawal.fee_fen
    requested_by_staff_id = withdrawal.requested_by_staff_id
    holds.hold(session, withdrawal, now=now)
    record_withdrawal_usage(
        session,
        owner_ref=withdrawal.owner_ref,
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
        method_id=withdrawal.method_id,
    )
    if needs_approval:
        record_event(
            session, withdrawal, "awaiting_approval", now=now, reason=withdrawal.review_reason
        )
    else:
        enqueue_send(session, withdrawal, now=now)
    payouts.notifier.notify(
        session,
        owner_ref=withdrawal.owner_ref,
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
