"""Money for a consumed card: the ledger transfers, the settlement time, the seller's wallet.

When the channel confirms a card, one linked chain of transfers (ids ``order:{id}:…``) records:

* ``fee``      carrier receivable ← spread revenue      face value − payout (what we keep)
* ``owed``     carrier receivable ← seller's pending wallet   payout (what we owe the seller)
* ``carrier``  own funds ← carrier receivable            face value (the channel settles with us;
  the sandbox channels settle each consumption at once)
* ``escrow``   escrow ← own funds                        payout (client money is backed in the
  segregated escrow account the moment it is owed)

At the profile's settlement time (at once for real-time profiles, T+N working days otherwise)
the payout leaves the seller's pending wallet for the profile's destination
(``credit.destinations.credit_seller``): the available wallet, the carrier wallet or the
consumption credit. The order
records which calendar computed that time (``settle_calendar``); a time computed from a fallback
calendar moves when the year's arrangement is loaded (``reschedule_fallback_settlements``).

Face-value mismatch (面值不符) policy: the card is settled at its actual face value and at that
face value's rate in the rate card version of the order's locked quote; if that version does not
list the actual face value, the quoted rate is applied to the actual face value. The seller is
told either way.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple, Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from huafei.carriers.gateway import ConsumptionStatus
from huafei.core.money import Money, Rate
from huafei.credit.destinations import credit_seller
from huafei.identity import limits
from huafei.jobs.service import enqueue, move_queued
from huafei.ledger import NewTransfer, TransferQueue
from huafei.ledger.chart import PLATFORM, Code, account_id
from huafei.notices.service import NoticeKind, Notifier
from huafei.orders.models import Order, OrderState
from huafei.orders.state import transition
from huafei.rates import errors as rate_errors
from huafei.rates.models import ChannelProfile, Destination, Lane, RateCardVersion, Settlement
from huafei.rates.service import price_in_version
from huafei.workdays.service import FALLBACK_SOURCES, WorkingDays

SETTLE_JOB = "orders.settle"
FAILURE_TEXT = {
    ConsumptionStatus.WRONG_PIN: "卡密错误",
    ConsumptionStatus.USED: "卡已被使用",
    ConsumptionStatus.EXPIRED: "卡已过期",
    ConsumptionStatus.REJECTED: "渠道拒绝",
}


@dataclass(frozen=True, slots=True)
class Payout:
    face_value_fen: int
    payout_fen: int
    fee_fen: int
    rate: Decimal


def payout_for(session: Session, order: Order, actual_face_value_fen: int) -> Payout:
    """What the seller is paid for this order given the face value the channel reported."""
    if actual_face_value_fen == order.face_value_fen:
        return Payout(
            order.face_value_fen,
            order.quoted_payout_fen,
            order.face_value_fen - order.quoted_payout_fen,
            order.rate,
        )
    version = session.get(RateCardVersion, order.rate_version_id)
    rate = Rate(order.rate)
    if version is not None:
        with contextlib.suppress(rate_errors.CardTypeNotOffered):
            rate = price_in_version(
                session,
                version=version,
                carrier=order.carrier,
                face_value_fen=actual_face_value_fen,
                lane=Lane(order.lane),
            ).rate
    paid = rate.apply(Money(actual_face_value_fen)).fen
    return Payout(actual_face_value_fen, paid, actual_face_value_fen - paid, rate.value)


def credit_consumed(
    session: Session,
    order: Order,
    *,
    actual_face_value_fen: int,
    now: datetime,
    actor: str,
    notifier: Notifier,
    ledger: TransferQueue | None = None,
) -> None:
    """Record the consumption's money and move the order to settling (and settled, when the
    profile settles at once).

    The transfers go to ``ledger`` when given (the caller flushes it before committing, one batch
    for many orders); otherwise they are created here.
    """
    queue = TransferQueue() if ledger is None else ledger
    payout = payout_for(session, order, actual_face_value_fen)
    _record_consumed(session, order, payout, actual_face_value_fen, now=now, actor=actor)
    queue.add_chain(_consumption_chain(session, order, payout, now=now))
    _notify_credited(session, order, payout, actual_face_value_fen, now=now, notifier=notifier)
    _schedule_settlement(session, order, now=now, actor=actor, notifier=notifier, ledger=queue)
    if ledger is None:
        queue.flush(session, now=now)


def _record_consumed(
    session: Session,
    order: Order,
    payout: Payout,
    actual_face_value_fen: int,
    *,
    now: datetime,
    actor: str,
) -> None:
    """The order's figures, and its move to succeeded (or face-value mismatch)."""
    mismatch = actual_face_value_fen != order.face_value_fen
    order.actual_face_value_fen = actual_face_value_fen
    order.payout_fen = payout.payout_fen
    order.fee_fen = payout.fee_fen
    order.consumed_at = now
    transition(
        session,
        order,
        OrderState.FACE_VALUE_MISMATCH if mismatch else OrderState.SUCCEEDED,
        actor=actor,
        now=now,
        reason=(
            f"actual face value {Money(actual_face_value_fen).format()} "
            f"instead of {Money(order.face_value_fen).format()}"
            if mismatch
            else ""
        ),
    )


def _consumption_chain(
    session: Session, order: Order, payout: Payout, *, now: datetime
) -> list[NewTransfer]:
    """The linked chain of the module's docstring: fee, owed, carrier, escrow (a leg of
    nothing is left out)."""
    platform = {
        code: account_id(session, code, PLATFORM, now=now)
        for code in (Code.CARRIER_RECEIVABLE, Code.SPREAD_REVENUE, Code.OWN_FUNDS, Code.ESCROW)
    }
    pending = account_id(session, Code.WALLET_PENDING, order.owner_ref, now=now)
    ref = f"order:{order.id}"

    def leg(name: str, debit: int, credit: int, amount: int, memo: str) -> NewTransfer:
        return NewTransfer(f"{ref}:{name}", debit, credit, amount, ref=ref, memo=memo)

    receivable, own_funds = platform[Code.CARRIER_RECEIVABLE], platform[Code.OWN_FUNDS]
    chain = []
    if payout.fee_fen > 0:
        chain.append(
            leg("fee", receivable, platform[Code.SPREAD_REVENUE], payout.fee_fen, "spread")
        )
    if payout.payout_fen > 0:
        chain.append(leg("owed", receivable, pending, payout.payout_fen, "card consumed"))
    chain.append(
        leg("carrier", own_funds, receivable, payout.face_value_fen, "carrier channel settlement")
    )
    if payout.payout_fen > 0:
        escrow = platform[Code.ESCROW]
        chain.append(
            leg("escrow", escrow, own_funds, payout.payout_fen, "client money into escrow")
        )
    return chain


def _notify_credited(
    session: Session,
    order: Order,
    payout: Payout,
    actual_face_value_fen: int,
    *,
    now: datetime,
    notifier: Notifier,
) -> None:
    """Tell the seller: the balance change, and first the adjustment of a face-value mismatch."""
    ref = f"order:{order.id}"
    payout_text = Money(payout.payout_fen).format()
    if actual_face_value_fen != order.face_value_fen:
        notifier.notify(
            session,
            owner_ref=order.owner_ref,
            kind=NoticeKind.ORDER_ADJUSTED,
            title="面值不符，已按实际面值结算",
            body=(
                f"订单 {order.id} 的卡实际面值为 {Money(actual_face_value_fen).format()}"
                f"（提交时选择 {Money(order.face_value_fen).format()}），"
                f"按实际面值的费率结算 {payout_text}。"
            ),
            now=now,
            ref=ref,
        )
    notifier.notify(
        session,
        owner_ref=order.owner_ref,
        kind=NoticeKind.BALANCE_CHANGE,
        title="余额变动",
        body=f"订单 {order.id} 核销成功，{payout_text} 计入待结算余额。",
        now=now,
        ref=ref,
    )


def _schedule_settlement(
    session: Session,
    order: Order,
    *,
    now: datetime,
    actor: str,
    notifier: Notifier,
    ledger: TransferQueue,
) -> None:
    """The order moves to settling with its settlement time: settled at once when that time has
    come (a real-time profile), else a settle job at that time."""
    settle_at, order.settle_calendar = settlement_time(session, order.profile_code, now)
    order.settle_at = settle_at
    transition(session, order, OrderState.SETTLING, actor=actor, now=now)
    if settle_at <= now:
        make_available(session, order, now=now, actor=actor, notifier=notifier, ledger=ledger)
    else:
        enqueue(
            session,
            SETTLE_JOB,
            {"order_id": order.id},
            now=now,
            run_at=settle_at,
            dedupe_key=f"settle:{order.id}",
        )


def settlement_time(session: Session, profile_code: str, traded_at: datetime) -> SettlementTime:
    """When a trade of ``traded_at`` on the profile becomes available, and which calendar said
    so (``workdays.DaySource``; None when the profile settles at once). Card orders and balance
    sales settle by this one rule."""
    profile = _profile(session, profile_code)
    if profile is None or profile.settlement == Settlement.REALTIME:
        return SettlementTime(traded_at, None)
    settled = _working_days(session).settlement(traded_at, profile.settlement_days)
    return SettlementTime(settled.at, settled.source.value)


class SettlementTime(NamedTuple):
    at: datetime
    calendar: str | None


def fail_consumption(
    session: Session,
    order: Order,
    *,
    status: ConsumptionStatus,
    reason: str | None,
    now: datetime,
    actor: str,
    notifier: Notifier,
) -> None:
    """The card was not consumed (wrong PIN, used, expired, refused): the order fails, its limit
    usage is released and the seller is told."""
    order.failure_reason = status.value
    transition(
        session, order, OrderState.FAILED, actor=actor, now=now, reason=reason or status.value
    )
    limits.release_usage(session, ref=f"order:{order.id}")
    notifier.notify(
        session,
        owner_ref=order.owner_ref,
        kind=NoticeKind.ORDER_FAILED,
        title="卡密未能核销",
        body=f"订单 {order.id}：{FAILURE_TEXT.get(status, status.value)}。",
        now=now,
        ref=f"order:{order.id}",
    )


_PROFILES = "huafei.orders.profiles"
_WORKING_DAYS = "huafei.orders.working_days"


def _working_days(session: Session) -> WorkingDays:
    """One working-day calendar per unit of work, so a batch reads each year's arrangement once."""
    calendar = session.info.get(_WORKING_DAYS)
    if calendar is None:
        calendar = session.info[_WORKING_DAYS] = WorkingDays(session)
    return calendar


def _profile(session: Session, code: str) -> ChannelProfile | None:
    """The channel profile, loaded once per unit of work (the identity map alone holds objects
    weakly, so a batch of orders would load it again and again)."""
    profiles: dict[str, ChannelProfile | None] = session.info.setdefault(_PROFILES, {})
    if code not in profiles:
        profiles[code] = session.get(ChannelProfile, code)
    return profiles[code]


def make_available(
    session: Session,
    order: Order,
    *,
    now: datetime,
    actor: str,
    notifier: Notifier,
    ledger: TransferQueue | None = None,
) -> None:
    """The order is settled: its payout goes where the profile's destination says
    (``credit.destinations.credit_seller``: the available wallet, the carrier wallet or the
    consumption credit).

    The transfers go to ``ledger`` when given (flushed by the caller), else they are created here.
    """
    if order.order_state is not OrderState.SETTLING:
        return  # settled already (a repeated job) — nothing to do
    profile = _profile(session, order.profile_code)
    credit_seller(
        session,
        destination=profile.money_destination if profile is not None else Destination.CASH,
        owner_ref=order.owner_ref,
        amount_fen=order.payout_fen or 0,
        ref=f"order:{order.id}",
        subject=f"订单 {order.id}",
        now=now,
        notifier=notifier,
        ledger=ledger,
    )
    order.settled_at = now
    transition(session, order, OrderState.SETTLED, actor=actor, now=now)


#: settlement times that may move when an arrangement is loaded: computed from a fallback, or
#: before the calendar that computed them was recorded (NULL)
MOVABLE_CALENDARS = [source.value for source in FALLBACK_SOURCES]


def reschedule_fallback_settlements(session: Session, *, now: datetime) -> int:
    """After a holiday arrangement is loaded: every order still settling whose time came from a
    fallback calendar gets its time again from the calendars as they are now (and its settle
    job moves with it). Returns how many orders got another time.

    Orders whose time came from an arrangement (loaded or published) are left alone.
    """
    orders = session.scalars(
        select(Order)
        .where(
            Order.state == OrderState.SETTLING.value,
            or_(Order.settle_calendar.in_(MOVABLE_CALENDARS), Order.settle_calendar.is_(None)),
        )
        .order_by(Order.id)
        .with_for_update()
    ).all()
    forget_calendar(session)
    moved = sum(
        settle_again(session, order, traded_at=order.consumed_at, job=f"settle:{order.id}", now=now)
        for order in orders
    )
    session.flush()
    return moved


class Settling(Protocol):
    """A trade waiting for its settlement time (a card order, a balance sale)."""

    profile_code: str
    settle_at: datetime | None
    settle_calendar: str | None
    updated_at: datetime


def settle_again(
    session: Session, row: Settling, *, traded_at: datetime | None, job: str, now: datetime
) -> bool:
    """A settling trade's time computed again from the calendars as they are now (after an
    arrangement is loaded), its settle job (dedupe key ``job``) moved with it; True when the
    time changed. A trade of a real-time profile has no time to move."""
    if traded_at is None or row.settle_at is None:
        return False
    again = settlement_time(session, row.profile_code, traded_at)
    if again.calendar is None:
        return False
    row.settle_calendar = again.calendar
    if again.at == row.settle_at:
        return False
    row.settle_at = again.at
    row.updated_at = now
    move_queued(session, job, run_at=again.at)
    return True


def forget_calendar(session: Session) -> None:
    """Read the calendars afresh in this unit of work (an arrangement was just loaded)."""
    session.info.pop(_WORKING_DAYS, None)
