"""A balance sale's settlement: at the profile's settlement time (the card orders' rule,
``orders.settlement.settlement_time``) the payout moves from the seller's pending wallet to the
available one; a time computed from a fallback calendar moves when the year's arrangement is
loaded, as card orders' do."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from huafei.balance.models import BalanceSale, SaleState
from huafei.balance.service.timeline import Step, lock_sale, move
from huafei.core.money import Money
from huafei.ledger import NewTransfer, TransferQueue
from huafei.ledger.chart import Code, account_id
from huafei.notices.service import NoticeKind, Notifier
from huafei.orders.settlement import MOVABLE_CALENDARS, forget_calendar, settle_again

SETTLE_JOB = "balance.settle"


def settle_job_key(sale: BalanceSale) -> str:
    """The dedupe key of the sale's settle job."""
    return f"{sale.ref}:settle"


def make_available(
    session: Session,
    sale: BalanceSale,
    *,
    now: datetime,
    notifier: Notifier,
    ledger: TransferQueue | None = None,
) -> None:
    """Move the payout from pending to available: the sale is settled (a repeat does nothing).
    The transfer goes to ``ledger`` when given (flushed by the caller)."""
    if sale.sale_state is not SaleState.SETTLING:
        return
    queue = TransferQueue() if ledger is None else ledger
    queue.add_chain(
        [
            NewTransfer(
                f"{sale.ref}:available",
                account_id(session, Code.WALLET_PENDING, sale.owner_ref, now=now),
                account_id(session, Code.WALLET_AVAILABLE, sale.owner_ref, now=now),
                sale.payout_fen,
                ref=sale.ref,
                memo="settled",
            )
        ]
    )
    if ledger is None:
        queue.flush(session, now=now)
    sale.settled_at = now
    move(session, sale, SaleState.SETTLED, step=Step.SETTLED, actor="settlement", now=now)
    notifier.notify(
        session,
        owner_ref=sale.owner_ref,
        kind=NoticeKind.FUNDS_ARRIVED,
        title="到账通知",
        body=(f"话费余额回收 {sale.id} 已结算，{Money(sale.payout_fen).format()} 已到可用余额。"),
        now=now,
        ref=sale.ref,
    )


def settle(session: Session, sale_id: int, *, now: datetime, notifier: Notifier) -> None:
    """The settle job: at the settlement time, the payout becomes available."""
    sale = lock_sale(session, sale_id)
    if sale is not None:
        make_available(session, sale, now=now, notifier=notifier)


def reschedule_fallback_settlements(session: Session, *, now: datetime) -> int:
    """After a holiday arrangement is loaded: every sale still settling whose time came from a
    fallback calendar gets its time again (its settle job moves with it); returns how many got
    another time."""
    sales = session.scalars(
        select(BalanceSale)
        .where(
            BalanceSale.state == SaleState.SETTLING.value,
            or_(
                BalanceSale.settle_calendar.in_(MOVABLE_CALENDARS),
                BalanceSale.settle_calendar.is_(None),
            ),
        )
        .order_by(BalanceSale.id)
        .with_for_update()
    ).all()
    forget_calendar(session)
    moved = sum(
        settle_again(
            session, sale, traded_at=sale.transferred_at, job=settle_job_key(sale), now=now
        )
        for sale in sales
    )
    session.flush()
    return moved
