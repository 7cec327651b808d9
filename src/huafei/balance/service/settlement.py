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
from huafei.credit.destinations import credit_seller
from huafei.ledger import TransferQueue
from huafei.notices.service import Notifier
from huafei.orders.settlement import MOVABLE_CALENDARS, forget_calendar, settle_again
from huafei.rates.models import ChannelProfile, Destination
from huafei.vouchers.schemas import Subject
from huafei.vouchers.service import request_voucher

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
    """The sale is settled: its payout goes where the profile's destination says
    (``credit.destinations.credit_seller``), a repeat does nothing. The transfers go to
    ``ledger`` when given (flushed by the caller). Its voucher is asked for in the same
    transaction."""
    if sale.sale_state is not SaleState.SETTLING:
        return
    profile = session.get(ChannelProfile, sale.profile_code)
    credit_seller(
        session,
        destination=profile.money_destination if profile is not None else Destination.CASH,
        owner_ref=sale.owner_ref,
        amount_fen=sale.payout_fen,
        ref=sale.ref,
        subject=f"话费余额回收 {sale.id}",
        now=now,
        notifier=notifier,
        ledger=ledger,
    )
    sale.settled_at = now
    move(session, sale, SaleState.SETTLED, step=Step.SETTLED, actor="settlement", now=now)
    request_voucher(session, Subject.BALANCE_SALE, sale.id, now=now)


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
