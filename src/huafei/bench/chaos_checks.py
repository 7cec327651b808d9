"""The end of a chaos run: wait until nothing is in flight, then check every invariant.

Each check is ``{"ok": bool, …figures}``: the ledger check; cards consumed at most once and paid
exactly once; withdrawals paid at most once with their holds resolved; money conserved in the
sellers' wallets; nothing stuck; the faults really injected; every request answered as it
should have been.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from huafei.bench.chaos_state import (
    CARRIER,
    CONSUMED,
    FINAL_WITHDRAWALS,
    OUTAGE_GRACE_SECONDS,
    Options,
    Tally,
)
from huafei.carriers.models import CarrierNotification
from huafei.core.db import Base, Database
from huafei.invariants import check_everything
from huafei.jobs.models import Job
from huafei.ledger import pending_state
from huafei.ledger.chart import WALLET_CODES
from huafei.ledger.models import Account, Transfer, TransferKind
from huafei.orders.models import Order, OrderState
from huafei.payouts.models import Withdrawal, WithdrawalStatus
from huafei.payouts.service.holds import hold_id

Check = dict[str, Any]


def open_work(session: Session) -> dict[str, int]:
    """What is still in flight: orders and withdrawals not final, callbacks not handled."""
    final_orders = [s.value for s in OrderState if s.final]
    return {
        "orders_not_final": _count(session, Order, Order.state.not_in(final_orders)),
        "withdrawals_not_final": _count(
            session, Withdrawal, Withdrawal.status.not_in(FINAL_WITHDRAWALS)
        ),
        "unhandled_callbacks": _count(
            session, CarrierNotification, CarrierNotification.handled_at.is_(None)
        ),
    }


def _count(session: Session, table: type[Base], condition: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count()).select_from(table).where(condition)) or 0)


def quiesce(db: Database, timeout: float) -> float | None:
    """Seconds until every order and withdrawal is final; None if that did not happen."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not any(db.run(open_work).values()):
            return time.monotonic() - started
        time.sleep(1.0)
    return None


def run_checks(
    options: Options, db: Database, sandbox: str, tally: Tally, *, quiet: float | None
) -> dict[str, Check]:
    """Every check, by name; ``sandbox`` is the sandboxes' base URL (their records are read)."""
    consumptions = httpx.get(
        f"{sandbox}/sandbox/carriers/{CARRIER.value}/control/consumptions", timeout=120
    ).json()
    rail_payouts = [
        payout
        for rail in ("bank", "alipay", "wechat", "ecny")
        for payout in httpx.get(
            f"{sandbox}/sandbox/rails/{rail}/_control/payouts", timeout=120
        ).json()
    ]
    checks: dict[str, Check] = {}
    with db.session() as session:
        report = check_everything(session)
        checks["ledger_check"] = {"ok": report.ok, "report": None if report.ok else report.render()}
        orders = session.execute(
            select(Order.id, Order.state, Order.fingerprint, Order.consumption_id, Order.payout_fen)
        ).all()
        withdrawals = list(session.scalars(select(Withdrawal)))
        checks.update(_card_checks(session, orders, consumptions))
        checks["withdrawals_paid_at_most_once_holds_resolved"] = _withdrawal_check(
            session, withdrawals, rail_payouts
        )
        checks["money_conserved"] = _money_check(session, orders, withdrawals)
        checks["nothing_stuck"] = _stuck_check(session, orders, quiet=quiet)
    checks["faults_injected"] = _faults_check(options, tally)
    checks["answers"] = _answers_check(tally)
    return checks


def _card_checks(
    session: Session, orders: Sequence[Any], consumptions: list[dict[str, Any]]
) -> dict[str, Check]:
    consumed_cards = Counter(o.fingerprint for o in orders if o.state in CONSUMED)
    successes = Counter(c["serial"] for c in consumptions if c["outcome"] == "succeeded")
    succeeded_ids = {c["consumption_id"] for c in consumptions if c["outcome"] == "succeeded"}
    settled = {o.consumption_id: o for o in orders if o.state == OrderState.SETTLED.value}
    owed = Counter(
        transfer_id.split(":")[1]
        for transfer_id in session.scalars(
            select(Transfer.id).where(Transfer.id.like("order:%:owed"))
        )
    )
    paid_twice = [order_id for order_id, n in owed.items() if n > 1]
    unpaid = sorted(succeeded_ids - set(settled))
    paid_unconsumed = sorted(set(settled) - succeeded_ids)
    return {
        "cards_consumed_at_most_once": {
            "ok": max(consumed_cards.values(), default=0) <= 1
            and max(successes.values(), default=0) <= 1,
            "consumed_at_the_channel": len(succeeded_ids),
        },
        "consumed_cards_paid_exactly_once": {
            "ok": not paid_twice and not unpaid and not paid_unconsumed,
            "settled_orders": len(settled),
            "consumed_not_settled": unpaid[:20],
            "settled_not_consumed": paid_unconsumed[:20],
            "paid_twice": paid_twice[:20],
        },
    }


def _withdrawal_check(
    session: Session, withdrawals: list[Withdrawal], rail_payouts: list[dict[str, Any]]
) -> Check:
    rail_paid = Counter(p["payout_id"] for p in rail_payouts if p["paid"])
    problems = []
    for withdrawal in withdrawals:
        paid_at_rail = rail_paid.get(withdrawal.payout_id, 0)
        if paid_at_rail > 1:
            problems.append(f"{withdrawal.payout_id}: paid {paid_at_rail} times")
        if (withdrawal.status == WithdrawalStatus.PAID.value) != (paid_at_rail == 1):
            problems.append(
                f"{withdrawal.payout_id}: {withdrawal.status}, rail paid {paid_at_rail}"
            )
        hold = pending_state(session, hold_id(withdrawal.id))
        expected = (
            TransferKind.POST_PENDING
            if withdrawal.status == WithdrawalStatus.PAID.value
            else TransferKind.VOID_PENDING
        )
        if hold is not expected:
            problems.append(f"{withdrawal.payout_id}: {withdrawal.status}, hold {hold}")
    known = {w.payout_id for w in withdrawals}
    problems += [f"{p}: paid at the rail, unknown here" for p in rail_paid if p not in known]
    statuses = Counter(w.status for w in withdrawals)
    return {"ok": not problems, "withdrawals": dict(statuses), "problems": problems[:20]}


def _money_check(session: Session, orders: Sequence[Any], withdrawals: list[Withdrawal]) -> Check:
    wallets = int(
        session.scalar(
            select(
                func.coalesce(func.sum(Account.credits_posted - Account.debits_posted), 0)
            ).where(Account.owner_ref.like("seller:%"), Account.code.in_(WALLET_CODES))
        )
        or 0
    )
    earned = sum(o.payout_fen or 0 for o in orders if o.state == OrderState.SETTLED.value)
    withdrawn = sum(
        w.amount_fen + w.fee_fen for w in withdrawals if w.status == WithdrawalStatus.PAID.value
    )
    return {
        "ok": wallets == earned - withdrawn,
        "wallets_fen": wallets,
        "earned_fen": earned,
        "withdrawn_fen": withdrawn,
    }


def _stuck_check(session: Session, orders: Sequence[Any], *, quiet: float | None) -> Check:
    work = open_work(session)
    failed_jobs = int(
        session.scalar(select(func.count()).select_from(Job).where(Job.status == "failed")) or 0
    )
    conflicts = sum(1 for o in orders if o.state == OrderState.CONFLICT.value)
    return {
        "ok": quiet is not None and not any(work.values()) and not failed_jobs,
        **work,
        "conflicts": conflicts,
        "failed_jobs": failed_jobs,
        "orders": dict(Counter(o.state for o in orders)),
    }


def _faults_check(options: Options, tally: Tally) -> Check:
    # The nemesis did its work: a broken one would make every other check pass vacuously.
    least_kills = int(0.8 * options.seconds / options.kill_every[1])
    return {
        "ok": len(tally.pg_restarts) == options.pg_restarts
        and sum(tally.kills.values()) >= least_kills,
        "kills": sum(tally.kills.values()),
        "least_kills": least_kills,
        "postgres_restarts": len(tally.pg_restarts),
    }


def _answers_check(tally: Tally) -> Check:
    # While PostgreSQL restarts the API answers 503 (nothing done, try again); any other 5xx,
    # or a 503 at another time, is a bug.
    outages = [(at - 1.0, at + took + OUTAGE_GRACE_SECONDS) for at, took in tally.pg_restarts]
    unexpected = [
        f"{status}: {body}"
        for at, status, body in tally.server_errors
        if status != 503 or not any(start <= at <= end for start, end in outages)
    ]
    return {
        "ok": not unexpected and not tally.replay_mismatches and not tally.unanswered,
        "server_errors_outside_restarts": unexpected[:20],
        "replay_mismatches": tally.replay_mismatches[:20],
        "unanswered": tally.unanswered,
    }
