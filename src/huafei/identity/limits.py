"""KYC limits: the one check every money flow calls before it moves a seller's money.

Limits are rows of ``kyc_limits`` (tier × flow → per-order, daily, annual and lifetime sizes in
fen; NULL is no limit), seeded by the migration from ``DEFAULT_LIMITS`` and documented with
their source in docs/identity.md. Usage is one ``kyc_limit_usage`` row per order or withdrawal,
keyed by the caller's reference; released rows no longer count. Days and years are Beijing
calendar days and years.

How a flow uses it::

    check_limit(session, seller_id=s, flow="card_sale", amount_fen=10_000, now=now)  # early answer
    record_usage(session, seller_id=s, flow="card_sale", amount_fen=10_000, ref="order:9", now=now)
    ...
    release_usage(session, ref="order:9", now=now)  # the order failed or was cancelled

``record_usage`` checks again under a lock on the seller's row, so two orders racing each other
cannot together pass a limit that each alone stays under.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, case, func, select
from sqlalchemy.orm import Session

from huafei.core.days import BEIJING
from huafei.core.db import bulk_insert
from huafei.core.money import InvalidAmount, Money
from huafei.identity.errors import (
    LimitExceeded,
    LimitUsageConflict,
    SellerNotFound,
    UnknownLimitFlow,
)
from huafei.identity.models import KycLimit, KycLimitUsage, Seller

_USAGES: Table = KycLimitUsage.__table__  # type: ignore[assignment]


class Flow(enum.StrEnum):
    CARD_SALE = "card_sale"
    """A seller sells recharge cards (money into the wallet)."""
    BALANCE_SALE = "balance_sale"
    """A seller sells carrier account balance (needs the service password, L3)."""
    WITHDRAWAL = "withdrawal"
    """A seller withdraws to a payout account in their own verified name."""


class Window(enum.StrEnum):
    PER_ORDER = "per_order"
    DAILY = "daily"
    ANNUAL = "annual"
    LIFETIME = "lifetime"


@dataclass(frozen=True, slots=True)
class LimitRow:
    tier: int
    flow: Flow
    per_order_fen: int | None
    daily_fen: int | None
    annual_fen: int | None
    lifetime_fen: int | None

    def size(self, window: Window) -> int | None:
        return {
            Window.PER_ORDER: self.per_order_fen,
            Window.DAILY: self.daily_fen,
            Window.ANNUAL: self.annual_fen,
            Window.LIFETIME: self.lifetime_fen,
        }[window]

    @classmethod
    def in_yuan(cls, tier: int, flow: Flow, *sizes: int | None) -> LimitRow:
        """A row with its per-order, daily, annual and lifetime sizes given in whole yuan."""
        fen = [None if size is None else Money.from_yuan(size).fen for size in sizes]
        return cls(tier, flow, *fen)


#: The defaults the migration seeds (docs/identity.md gives the reasoning and sources).
DEFAULT_LIMITS: tuple[LimitRow, ...] = (
    # L1 ≈ PBoC type Ⅰ: one remote channel, ¥1,000 over the account's life.
    LimitRow.in_yuan(1, Flow.CARD_SALE, 500, 1_000, 1_000, 1_000),
    LimitRow.in_yuan(1, Flow.BALANCE_SALE, 0, 0, 0, 0),
    LimitRow.in_yuan(1, Flow.WITHDRAWAL, 0, 0, 0, 0),
    # L2 ≈ type Ⅱ: ¥100,000 a year.
    LimitRow.in_yuan(2, Flow.CARD_SALE, 5_000, 20_000, 100_000, None),
    LimitRow.in_yuan(2, Flow.BALANCE_SALE, 0, 0, 0, 0),
    LimitRow.in_yuan(2, Flow.WITHDRAWAL, 50_000, 50_000, None, None),
    # L3 ≈ type Ⅲ: ¥200,000 a year.
    LimitRow.in_yuan(3, Flow.CARD_SALE, 20_000, 50_000, 200_000, None),
    LimitRow.in_yuan(3, Flow.BALANCE_SALE, 500, 500, 6_000, None),
    LimitRow.in_yuan(3, Flow.WITHDRAWAL, 50_000, 200_000, None, None),
)


@dataclass(frozen=True, slots=True)
class WindowStatus:
    window: Window
    size_fen: int | None
    used_fen: int
    remaining_fen: int | None


@dataclass(frozen=True, slots=True)
class FlowStatus:
    flow: Flow
    tier: int
    windows: tuple[WindowStatus, ...]


def _flow(flow: str) -> Flow:
    try:
        return Flow(flow)
    except ValueError:
        raise UnknownLimitFlow(f"No limits for flow {flow!r}.", flow=flow) from None


def period_starts(now: datetime) -> tuple[datetime, datetime]:
    """The start of today and of this year, Beijing time, as aware datetimes."""
    local = now.astimezone(BEIJING)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return day, day.replace(month=1, day=1)


def _tier_of(session: Session, seller_id: int, *, lock: bool = False) -> int:
    query = select(Seller.tier).where(Seller.id == seller_id)
    if lock:
        query = query.with_for_update()
    tier = session.scalars(query).one_or_none()
    if tier is None:
        raise SellerNotFound
    return tier


def limit_row(session: Session, tier: int, flow: Flow) -> LimitRow:
    row = session.get(KycLimit, (tier, flow.value))
    if row is None:
        raise UnknownLimitFlow(f"No limits for flow {flow.value!r} at tier {tier}.", flow=flow)
    return LimitRow(
        row.tier, flow, row.per_order_fen, row.daily_fen, row.annual_fen, row.lifetime_fen
    )


def _used(session: Session, seller_id: int, flow: Flow, now: datetime) -> dict[Window, int]:
    day, year = period_starts(now)
    amount = KycLimitUsage.amount_fen
    used_at = KycLimitUsage.used_at
    row = session.execute(
        select(
            func.coalesce(func.sum(case((used_at >= day, amount), else_=0)), 0),
            func.coalesce(func.sum(case((used_at >= year, amount), else_=0)), 0),
            func.coalesce(func.sum(amount), 0),
        ).where(
            KycLimitUsage.seller_id == seller_id,
            KycLimitUsage.flow == flow.value,
            KycLimitUsage.released_at.is_(None),
        )
    ).one()
    return {
        Window.PER_ORDER: 0,
        Window.DAILY: int(row[0]),
        Window.ANNUAL: int(row[1]),
        Window.LIFETIME: int(row[2]),
    }


def _statuses(row: LimitRow, used: dict[Window, int]) -> tuple[WindowStatus, ...]:
    statuses = []
    for window in Window:
        size = row.size(window)
        remaining = None if size is None else max(0, size - used[window])
        statuses.append(WindowStatus(window, size, used[window], remaining))
    return tuple(statuses)


_PERIOD_WORDS = {
    Window.PER_ORDER: "for one transaction",
    Window.DAILY: "today",
    Window.ANNUAL: "this year",
    Window.LIFETIME: "in total",
}


def _verdict(row: LimitRow, used: dict[Window, int], amount_fen: int) -> None:
    over = [
        status
        for status in _statuses(row, used)
        if status.remaining_fen is not None and amount_fen > status.remaining_fen
    ]
    if not over:
        return
    flow_words = row.flow.value.replace("_", " ")
    if row.per_order_fen == 0:
        raise LimitExceeded(
            f"Level {row.tier} sellers cannot make a {flow_words}; "
            "a higher verification level allows it.",
            limit=Window.PER_ORDER.value,
            size_fen=0,
            remaining_fen=0,
            tier=row.tier,
            flow=row.flow.value,
        )
    # The tightest limit; on a tie the longest window, the one that will not reset soon.
    order = list(Window)
    worst = min(over, key=lambda status: (status.remaining_fen or 0, -order.index(status.window)))
    size = worst.size_fen or 0
    left = worst.remaining_fen or 0
    raise LimitExceeded(
        f"{Money(amount_fen).format()} is over the {worst.window.value.replace('_', '-')} "
        f"{flow_words} limit of {Money(size).format()} for level "
        f"{row.tier}; {Money(left).format()} is left {_PERIOD_WORDS[worst.window]}. "
        "A higher verification level raises the limits.",
        limit=worst.window.value,
        size_fen=size,
        remaining_fen=left,
        tier=row.tier,
        flow=row.flow.value,
    )


def check_limit(
    session: Session, *, seller_id: int, flow: str, amount_fen: int, now: datetime
) -> None:
    """Raise ``LimitExceeded`` when ``amount_fen`` more of ``flow`` would pass a limit."""
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise InvalidAmount("The amount must be a positive number of fen.")
    kind = _flow(flow)
    row = limit_row(session, _tier_of(session, seller_id), kind)
    _verdict(row, _used(session, seller_id, kind, now), amount_fen)


def record_usage(
    session: Session, *, seller_id: int, flow: str, amount_fen: int, ref: str, now: datetime
) -> None:
    """Count ``amount_fen`` of ``flow`` against the seller's limits; idempotent on ``ref``.

    Checks the limits again under a lock on the seller's row and raises ``LimitExceeded``.
    Recording the same ``ref`` again with the same figures is a no-op; with other figures it
    raises ``LimitUsageConflict``.
    """
    record_usages(session, seller_id=seller_id, flow=flow, usages=[(ref, amount_fen)], now=now)


def record_usages(
    session: Session,
    *,
    seller_id: int,
    flow: str,
    usages: Sequence[tuple[str, int]],
    now: datetime,
    one_transaction: bool = False,
    new_refs: bool = False,
) -> None:
    """``record_usage`` for many ``(ref, amount_fen)`` at once (the orders of one batch), in
    order: each is checked against the limits with the ones before it counted. One lock, one
    look at what is used, one insert.

    With ``one_transaction`` the new usages together are also checked as one transaction (a
    batch of cards is one sale: its total counts against the per-order limit), and a refusal
    names the total, as ``check_limit`` with that total would. ``new_refs`` says the refs were
    made in the caller's unit of work (new order ids), so none can have been recorded before."""
    for _, amount_fen in usages:
        if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
            raise InvalidAmount("The amount must be a positive number of fen.")
    if not usages:
        return
    kind = _flow(flow)
    tier = _tier_of(session, seller_id, lock=True)
    # ref → (seller, flow, amount) of the usages recorded already (and of the new ones, below)
    existing = {} if new_refs else _recorded(session, {ref for ref, _ in usages})
    row: LimitRow | None = None
    used: dict[Window, int] = {}
    added: list[dict[str, Any]] = []
    fresh_total = sum(amount for ref, amount in usages if ref not in existing)
    if one_transaction and fresh_total:
        row, used = limit_row(session, tier, kind), _used(session, seller_id, kind, now)
        _verdict(row, used, fresh_total)
    for ref, amount_fen in usages:
        known = existing.get(ref)
        if known is not None:
            if known != (seller_id, kind.value, amount_fen):
                raise LimitUsageConflict(ref=ref)
            continue
        if row is None:
            row, used = limit_row(session, tier, kind), _used(session, seller_id, kind, now)
        _verdict(row, used, amount_fen)
        used = {window: total + amount_fen for window, total in used.items()}
        used[Window.PER_ORDER] = 0
        existing[ref] = (seller_id, kind.value, amount_fen)
        added.append(
            {
                "seller_id": seller_id,
                "flow": kind.value,
                "amount_fen": amount_fen,
                "ref": ref,
                "used_at": now,
            }
        )
    # Nobody reads the new rows' ids.
    bulk_insert(session, _USAGES, added)


def _recorded(session: Session, refs: set[str]) -> dict[str, tuple[int, str, int]]:
    """The usages recorded under ``refs``: ref → (seller, flow, amount)."""
    return {
        usage.ref: (usage.seller_id, usage.flow, usage.amount_fen)
        for usage in session.scalars(select(KycLimitUsage).where(KycLimitUsage.ref.in_(refs)))
    }


def release_usage(session: Session, *, ref: str, now: datetime | None = None) -> bool:
    """Stop counting a usage (its order failed or was cancelled); False if none or released."""
    usage = session.scalars(
        select(KycLimitUsage).where(KycLimitUsage.ref == ref).with_for_update()
    ).one_or_none()
    if usage is None or usage.released_at is not None:
        return False
    usage.released_at = now or usage.used_at
    session.flush()
    return True


def limit_status(session: Session, *, seller_id: int, now: datetime) -> list[FlowStatus]:
    """Every flow's limits for the seller's tier with what is used and left."""
    tier = _tier_of(session, seller_id)
    return [
        FlowStatus(
            kind,
            tier,
            _statuses(limit_row(session, tier, kind), _used(session, seller_id, kind, now)),
        )
        for kind in Flow
    ]


def all_limits(session: Session) -> list[KycLimit]:
    return list(session.scalars(select(KycLimit).order_by(KycLimit.tier, KycLimit.flow)))
