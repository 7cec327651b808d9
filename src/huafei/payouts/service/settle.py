"""Sending payouts to the rails and applying their results, exactly once.

The send job works in short transactions around the network call, never holding one open while
the rail thinks:

1. ``begin_send`` marks the withdrawal ``sending`` and counts the attempt — committed before
   anything leaves, so after a crash the next attempt knows the rail may have it;
2. the job asks the rail first when an earlier attempt exists (``query``) and only submits when
   the rail has never heard of the payout (the rail is idempotent on the payout id anyway);
3. ``record_ack`` / ``apply_result`` record what the rail said.

Results arrive by callback (through the ``rail_notifications`` inbox), by the poll job, or by a
query; whichever comes first posts or releases the hold under a row lock, and the others find a
final withdrawal and do nothing. Transfer ids are fixed, so even a racing second writer cannot
move money twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from huafei.core.db import insert_ignoring_conflicts
from huafei.core.money import Money
from huafei.jobs.service import enqueue
from huafei.notices.service import FINANCE_INBOX, NoticeKind, Notifier
from huafei.payouts.config import Payouts
from huafei.payouts.models import (
    RailName,
    RailNotification,
    Withdrawal,
    WithdrawalStatus,
)
from huafei.payouts.rails.base import PayoutAck, PayoutOrder, PayoutResult, PayoutStatus
from huafei.payouts.service import carrier_wallet, holds
from huafei.payouts.service.common import (
    POLL_JOB,
    enqueue_send,
    locked,
    locked_by_payout_id,
    record_event,
    refund,
)
from huafei.payouts.service.methods import reveal
from huafei.payouts.state import transition
from huafei.vouchers.schemas import Subject
from huafei.vouchers.service import request_voucher


@dataclass(frozen=True, slots=True)
class SendPlan:
    """What a send job hands the rail, decided (and committed) before the call."""

    withdrawal_id: int
    rail: RailName
    attempt: int
    order: PayoutOrder


def begin_send(
    session: Session, *, payouts: Payouts, withdrawal_id: int, now: datetime
) -> SendPlan | None:
    """Mark a send attempt; None when there is nothing to send (already sent or finished)."""
    withdrawal = locked(session, withdrawal_id)
    if withdrawal.state not in (WithdrawalStatus.QUEUED, WithdrawalStatus.SENDING):
        return None
    method = carrier_wallet.method_for(session, withdrawal, keyring=payouts.keyring, now=now)
    account = reveal(method, payouts.keyring)
    withdrawal.send_attempts += 1
    transition(withdrawal, WithdrawalStatus.SENDING, now)
    record_event(session, withdrawal, "send_attempt", now=now, attempt=withdrawal.send_attempts)
    session.flush()
    return SendPlan(
        withdrawal_id=withdrawal.id,
        rail=withdrawal.rail_name,
        attempt=withdrawal.send_attempts,
        order=PayoutOrder(
            payout_id=withdrawal.payout_id,
            amount_fen=withdrawal.amount_fen,
            currency=withdrawal.currency,
            account_no=account.number,
            account_name=account.holder_name,
            notify_url=payouts.callback_url(withdrawal.rail_name),
            bank_code=method.bank_code,
            memo="华飞提现",
        ),
    )


def _enqueue_poll(
    session: Session, payouts: Payouts, withdrawal: Withdrawal, now: datetime
) -> None:
    enqueue(
        session,
        POLL_JOB,
        {"withdrawal_id": withdrawal.id},
        now=now,
        run_at=now + payouts.poll_interval,
        dedupe_key=f"{POLL_JOB}:{withdrawal.id}:{withdrawal.send_attempts}",
        max_attempts=50,
    )


def record_ack(
    session: Session, *, payouts: Payouts, withdrawal_id: int, ack: PayoutAck, now: datetime
) -> Withdrawal:
    """The rail answered a submission: accepted (wait for the result) or refused (release)."""
    withdrawal = locked(session, withdrawal_id)
    if withdrawal.state is not WithdrawalStatus.SENDING:
        return withdrawal  # a callback or query settled it while we waited for the answer
    if ack.accepted:
        withdrawal.rail_ref = ack.rail_ref
        withdrawal.sent_at = now
        transition(withdrawal, WithdrawalStatus.SENT, now)
        record_event(session, withdrawal, "sent", now=now, actor="rail", rail_ref=ack.rail_ref)
        _enqueue_poll(session, payouts, withdrawal, now)
    else:
        refund(
            session, withdrawal, WithdrawalStatus.FAILED, now=now, notifier=payouts.notifier,
            code=ack.code or "REFUSED", reason=ack.reason or "支付通道拒绝", actor="rail",
        )  # fmt: skip
    session.flush()
    return withdrawal


def apply_result(
    session: Session,
    *,
    payouts: Payouts,
    withdrawal: Withdrawal,
    result: PayoutResult,
    now: datetime,
    source: str,
) -> str:
    """Apply a rail result to a row-locked withdrawal; returns what happened.

    ``paid`` / ``failed``: the hold was posted or released now; ``progress``: the rail has it;
    ``duplicate``: already applied; ``conflict``: the rail contradicts us (finance is told);
    ``ignored``: nothing to do.
    """
    if result.status is PayoutStatus.UNKNOWN:
        return "ignored"
    if result.status is PayoutStatus.PROCESSING:
        return _record_progress(
            session, payouts, withdrawal, result.rail_ref, now=now, source=source
        )
    succeeded = result.status is PayoutStatus.SUCCEEDED
    if withdrawal.state.final and (withdrawal.state is WithdrawalStatus.PAID) == succeeded:
        return "duplicate"
    what = _contradiction(withdrawal, result)
    if what is not None:
        return _conflict(
            session, withdrawal, result, what=what, source=source, notifier=payouts.notifier,
            now=now,
        )  # fmt: skip
    withdrawal.rail_ref = result.rail_ref or withdrawal.rail_ref
    if succeeded:
        _record_paid(session, payouts.notifier, withdrawal, result.rail_ref, now=now, source=source)
        return "paid"
    refund(
        session, withdrawal, WithdrawalStatus.FAILED, now=now, notifier=payouts.notifier,
        code=result.code or "FAILED", reason=result.reason or "支付通道处理失败", actor="rail",
    )  # fmt: skip
    session.flush()
    return "failed"


def _record_progress(
    session: Session,
    payouts: Payouts,
    withdrawal: Withdrawal,
    rail_ref: str | None,
    *,
    now: datetime,
    source: str,
) -> str:
    """The rail has the payout (``processing``): a withdrawal still ``sending`` is ``sent``."""
    if withdrawal.state is not WithdrawalStatus.SENDING:
        return "ignored"
    withdrawal.rail_ref = rail_ref
    withdrawal.sent_at = now
    transition(withdrawal, WithdrawalStatus.SENT, now)
    record_event(session, withdrawal, "sent", now=now, actor="rail", source=source)
    _enqueue_poll(session, payouts, withdrawal, now)
    return "progress"


def _contradiction(withdrawal: Withdrawal, result: PayoutResult) -> str | None:
    """What a final result contradicts in our record (``status``: we finished otherwise;
    ``amount``; ``unsent``: we never sent it), or None when it can be applied."""
    status = withdrawal.state
    if status.final:
        return "status"
    if result.amount_fen is not None and result.amount_fen != withdrawal.amount_fen:
        return "amount"
    if status not in (WithdrawalStatus.SENDING, WithdrawalStatus.SENT, WithdrawalStatus.QUEUED):
        return "unsent"
    return None


def _record_paid(
    session: Session,
    notifier: Notifier,
    withdrawal: Withdrawal,
    rail_ref: str | None,
    *,
    now: datetime,
    source: str,
) -> None:
    """The rail paid: post the holds, mark it paid, tell the owner."""
    holds.post(session, withdrawal, now=now)
    transition(withdrawal, WithdrawalStatus.PAID, now)
    request_voucher(session, Subject.WITHDRAWAL, withdrawal.id, now=now)
    record_event(
        session, withdrawal, "paid", now=now, actor="rail", source=source, rail_ref=rail_ref
    )
    notifier.notify(
        session,
        owner_ref=withdrawal.owner_ref,
        kind=NoticeKind.PAYOUT_ARRIVED,
        title="提现到账",
        body=(
            f"提现 {withdrawal.payout_id} 已到账 {Money(withdrawal.amount_fen).format()}"
            f"（手续费 {Money(withdrawal.fee_fen).format()}）。"
        ),
        ref=withdrawal.payout_id,
        now=now,
    )
    session.flush()


def _conflict(
    session: Session,
    withdrawal: Withdrawal,
    result: PayoutResult,
    *,
    what: str,
    source: str,
    notifier: Notifier,
    now: datetime,
) -> str:
    """Record that the rail's result (from ``source``) contradicts us in ``what`` and tell
    finance; nothing else changes."""
    record_event(
        session, withdrawal, "result_conflict", now=now, actor="rail", source=source, what=what,
        rail_status=result.status.value, rail_amount_fen=result.amount_fen,
    )  # fmt: skip
    notifier.notify(
        session,
        owner_ref=FINANCE_INBOX,
        kind=NoticeKind.RECONCILIATION,
        title="支付通道结果与平台记录不一致",
        body=(
            f"{withdrawal.rail} 通道对 {withdrawal.payout_id} 报告 {result.status.value}"
            f"（金额 {result.amount_fen}），平台记录为 {withdrawal.status}"
            f"（金额 {withdrawal.amount_fen}）。请核查。"
        ),
        ref=withdrawal.payout_id,
        now=now,
    )
    return "conflict"


def apply_queried(
    session: Session, *, payouts: Payouts, withdrawal_id: int, result: PayoutResult, now: datetime
) -> str:
    """Apply the rail's answer to a query (a poll or a later send attempt)."""
    withdrawal = locked(session, withdrawal_id)
    return apply_result(
        session, payouts=payouts, withdrawal=withdrawal, result=result, now=now, source="query"
    )


def receive_notification(
    session: Session,
    *,
    payouts: Payouts,
    rail: RailName,
    result: PayoutResult,
    body: bytes,
    now: datetime,
) -> str:
    """A verified rail callback: recorded once in the inbox, applied only when new."""
    notification_id = result.notification_id or hashlib.sha256(body).hexdigest()[:64]
    table = RailNotification.__table__
    inserted = insert_ignoring_conflicts(
        session,
        table,
        [
            {
                "rail": rail.value,
                "notification_id": notification_id,
                "payout_id": result.payout_id[:32],
                "status": result.status.value,
                "body": body.decode("utf-8", "replace"),
                "received_at": now,
                "handled_at": None,
                "outcome": None,
            }
        ],
    )
    if not inserted:
        return "duplicate"
    withdrawal = locked_by_payout_id(session, result.payout_id)
    if withdrawal is None or withdrawal.rail != rail.value:
        outcome = "unknown_payout"
    else:
        outcome = apply_result(
            session,
            payouts=payouts,
            withdrawal=withdrawal,
            result=result,
            now=now,
            source=f"callback:{notification_id}",
        )
    session.execute(
        update(RailNotification)
        .where(
            RailNotification.rail == rail.value,
            RailNotification.notification_id == notification_id,
        )
        .values(handled_at=now, outcome=outcome)
    )
    return outcome


def requeue_send(session: Session, *, withdrawal_id: int, now: datetime) -> bool:
    """The rail lost an accepted payout (it answers ``unknown``): send it again. Safe because
    the rail is idempotent on the payout id and had nothing under it."""
    withdrawal = locked(session, withdrawal_id)
    if withdrawal.state is not WithdrawalStatus.SENT:
        return False
    transition(withdrawal, WithdrawalStatus.QUEUED, now)
    record_event(session, withdrawal, "requeued", now=now, reason="rail does not know the payout")
    enqueue_send(session, withdrawal, now=now)
    return True


def send_state(session: Session, withdrawal_id: int) -> tuple[WithdrawalStatus, str, RailName]:
    """The withdrawal's status, payout id and rail, read without a lock."""
    withdrawal = session.get(Withdrawal, withdrawal_id)
    if withdrawal is None:  # pragma: no cover - jobs are enqueued with their withdrawal
        raise LookupError(f"withdrawal {withdrawal_id} not found")
    return withdrawal.state, withdrawal.payout_id, withdrawal.rail_name
