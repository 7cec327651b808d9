"""Helpers shared by the payout use cases: loading with a lock, racing inserts, history,
owner notices."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from huafei.core.errors import HuafeiError
from huafei.core.money import Money
from huafei.jobs.service import enqueue
from huafei.notices.service import NoticeKind, Notifier
from huafei.payouts import errors
from huafei.payouts.models import Withdrawal, WithdrawalEvent, WithdrawalStatus
from huafei.payouts.seams import release_withdrawal_usage
from huafei.payouts.service import holds
from huafei.payouts.state import transition

SEND_JOB = "payouts.send"
POLL_JOB = "payouts.poll"


def locked(session: Session, withdrawal_id: int) -> Withdrawal:
    """The withdrawal, row-locked until the transaction ends (PostgreSQL ``FOR UPDATE``; SQLite
    transactions are serialised already), so two writers never both act on one state."""
    withdrawal = session.scalars(
        select(Withdrawal)
        .where(Withdrawal.id == withdrawal_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if withdrawal is None:
        raise errors.WithdrawalNotFound(f"withdrawal {withdrawal_id} not found")
    return withdrawal


def locked_by_payout_id(session: Session, payout_id: str) -> Withdrawal | None:
    """The withdrawal a rail knows by ``payout_id``, row-locked like ``locked``; None if none."""
    return session.scalars(
        select(Withdrawal)
        .where(Withdrawal.payout_id == payout_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def add_unique(session: Session, row: object, conflict: HuafeiError) -> None:
    """Add ``row`` and flush it in a savepoint; when a unique constraint refuses it (a
    concurrent request won the race), raise ``conflict`` instead."""
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise conflict from None


def record_event(
    session: Session,
    withdrawal: Withdrawal,
    event: str,
    *,
    now: datetime,
    actor: str = "system",
    staff_id: int | None = None,
    **detail: object,
) -> None:
    """Add a step to the withdrawal's history (``withdrawal_events``) with who took it."""
    session.add(
        WithdrawalEvent(
            withdrawal_id=withdrawal.id,
            event=event,
            actor=actor,
            staff_id=staff_id,
            detail=json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str),
            created_at=now,
        )
    )
    session.flush()


def enqueue_send(session: Session, withdrawal: Withdrawal, *, now: datetime) -> None:
    """Queue the send job of the withdrawal's next attempt (once per attempt)."""
    enqueue(
        session,
        SEND_JOB,
        {"withdrawal_id": withdrawal.id},
        now=now,
        dedupe_key=f"{SEND_JOB}:{withdrawal.id}:{withdrawal.send_attempts}",
        max_attempts=50,
    )


def refund(
    session: Session,
    withdrawal: Withdrawal,
    status: WithdrawalStatus,
    *,
    now: datetime,
    notifier: Notifier,
    code: str,
    reason: str,
    actor: str = "system",
    staff_id: int | None = None,
) -> None:
    """End a withdrawal without paying: release the holds, record why, tell the owner."""
    holds.release(session, withdrawal, now=now)
    release_withdrawal_usage(session, withdrawal_id=withdrawal.id, now=now)
    transition(withdrawal, status, now)
    withdrawal.failure_code = code[:64]
    withdrawal.failure_reason = reason[:255]
    record_event(
        session, withdrawal, status.value, now=now, actor=actor, staff_id=staff_id,
        code=code, reason=reason,
    )  # fmt: skip
    titles = {
        WithdrawalStatus.FAILED: "提现失败",
        WithdrawalStatus.REJECTED: "提现未通过审核",
        WithdrawalStatus.CANCELLED: "提现已取消",
    }
    notifier.notify(
        session,
        owner_ref=withdrawal.owner_ref,
        kind=NoticeKind.PAYOUT_FAILED,
        title=titles.get(status, "提现失败"),
        body=(
            f"提现 {withdrawal.payout_id}（{Money(withdrawal.amount_fen).format()}）"
            f"未能完成：{reason}。"
            f"金额及手续费共 {Money(withdrawal.total_fen).format()} 已退回可用余额。"
        ),
        ref=withdrawal.payout_id,
        now=now,
    )
