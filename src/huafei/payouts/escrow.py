"""Escrow segregation: client money (备付金) covers every wallet, at every moment.

``escrow ≥ Σ wallets`` where escrow is the ``ESCROW`` account's posted balance (less anything a
pending transfer is taking out of it) and Σ wallets the posted balances of every owner's pending,
available and held accounts and of their consumption credit (消费金, owed to them too). The
difference — the margin — is platform money still sitting in escrow (fees and spread not yet
swept). It is checked by ``huafei ledger check``, exported on ``/metrics`` and watched by a
periodic job that alerts finance on a breach; platform revenue leaves escrow only through
``sweep_revenue``, an explicit transfer by a named operator."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from huafei.core.db import Database
from huafei.core.metrics import Metrics
from huafei.core.models import get_flag, set_flag
from huafei.core.money import Money
from huafei.ledger import NewTransfer, transfer
from huafei.ledger.chart import CLIENT_LIABILITY_CODES, PLATFORM, Code, ensure_account
from huafei.ledger.check import CheckReport
from huafei.ledger.models import Account
from huafei.notices.service import FINANCE_INBOX, NoticeKind, Notifier
from huafei.payouts import errors
from huafei.payouts.models import RevenueSweep
from huafei.wallets.reasons import Reason
from huafei.wallets.service import OWNER_KINDS

log = logging.getLogger(__name__)

BREACH_FLAG = "escrow_breach_since"


@dataclass(frozen=True, slots=True)
class EscrowPosition:
    escrow_fen: int
    wallets_fen: int

    @property
    def margin_fen(self) -> int:
        return self.escrow_fen - self.wallets_fen

    @property
    def covered(self) -> bool:
        return self.margin_fen >= 0


def escrow_position(session: Session, currency: str = "CNY") -> EscrowPosition:
    """The platform's escrow account against the wallets of every client (sellers,
    enterprises, partners, distributors)."""
    escrow = session.execute(
        select(
            func.coalesce(
                func.sum(Account.debits_posted - Account.credits_posted - Account.credits_pending),
                0,
            )
        ).where(
            Account.code == int(Code.ESCROW),
            Account.owner_ref == PLATFORM,
            Account.currency == currency,
        )
    ).scalar_one()
    clients = or_(*(Account.owner_ref.startswith(f"{kind}:") for kind in OWNER_KINDS))
    wallets = session.execute(
        select(func.coalesce(func.sum(Account.credits_posted - Account.debits_posted), 0)).where(
            Account.code.in_([int(c) for c in CLIENT_LIABILITY_CODES]),
            Account.currency == currency,
            clients,
        )
    ).scalar_one()
    return EscrowPosition(int(escrow), int(wallets))


def check_escrow_covers_wallets(session: Session, report: CheckReport) -> None:
    """The extra invariant ``huafei ledger check`` runs (registered in ``huafei.invariants``)."""
    position = escrow_position(session)
    report.notes.append(
        f"escrow {position.escrow_fen} fen, wallets {position.wallets_fen} fen, "
        f"margin {position.margin_fen} fen"
    )
    if not position.covered:
        report.add(
            "escrow_covers_wallets",
            "escrow",
            f"escrow holds {position.escrow_fen} fen but wallets are owed "
            f"{position.wallets_fen} fen: short by {-position.margin_fen} fen",
        )


def watch_escrow(session: Session, *, notifier: Notifier, now: datetime) -> EscrowPosition:
    """Alert finance once when the invariant breaks, and once when it holds again."""
    position = escrow_position(session)
    breached_since = get_flag(session, BREACH_FLAG)
    if not position.covered and not breached_since:
        log.error("escrow below wallets", extra={"margin_fen": position.margin_fen})
        set_flag(session, BREACH_FLAG, now.isoformat(), now)
        notifier.notify(
            session,
            owner_ref=FINANCE_INBOX,
            kind=NoticeKind.ESCROW_ALERT,
            title="备付金不足警报",
            body=(
                f"托管账户余额 {Money(position.escrow_fen).format()} 低于用户钱包合计 "
                f"{Money(position.wallets_fen).format()}，"
                f"缺口 {Money(-position.margin_fen).format()}。"
                "请立即补足并核查。"
            ),
            ref="escrow",
            now=now,
        )
    elif position.covered and breached_since:
        set_flag(session, BREACH_FLAG, "", now)
        notifier.notify(
            session,
            owner_ref=FINANCE_INBOX,
            kind=NoticeKind.ESCROW_ALERT,
            title="备付金已恢复",
            body=f"托管账户重新覆盖用户钱包（自 {breached_since} 起的缺口已消除）。",
            ref="escrow",
            now=now,
        )
    return position


def register_escrow_gauges(metrics: Metrics, db: Database) -> None:
    """``huafei_escrow_margin_fen`` and friends, read at scrape time."""

    def read(field: str) -> float | None:
        try:
            with db.session() as session:
                position = escrow_position(session)
        except Exception:
            log.warning("escrow gauge could not read the ledger", exc_info=True)
            return None
        value = {
            "margin": position.margin_fen,
            "escrow": position.escrow_fen,
            "wallets": position.wallets_fen,
        }[field]
        # Prometheus samples are floats: this only exports an integer fen amount read from
        # the ledger, exact up to 2**53 fen; no money is computed from it.
        return float(value)

    metrics.gauge(
        "huafei_escrow_margin_fen",
        "Escrow balance less the sum of all wallets, in fen (must never be negative)",
        lambda: read("margin"),
    )
    metrics.gauge(
        "huafei_escrow_balance_fen", "Escrow (client money) balance in fen", lambda: read("escrow")
    )
    metrics.gauge(
        "huafei_wallets_total_fen", "Sum of every wallet (pending+available+held) in fen",
        lambda: read("wallets"),
    )  # fmt: skip


def sweep_revenue(
    session: Session,
    *,
    operator_id: int,
    now: datetime,
    amount_fen: int | None = None,
    note: str = "",
) -> RevenueSweep:
    """Move platform money from escrow to own funds: by default the whole margin, never more.

    The escrow account is locked first, so two sweeps at once cannot both take the margin.
    """
    escrow = ensure_account(session, Code.ESCROW, PLATFORM, now=now)
    own = ensure_account(session, Code.OWN_FUNDS, PLATFORM, now=now)
    session.execute(select(Account.id).where(Account.id == escrow.id).with_for_update())
    margin = escrow_position(session).margin_fen
    amount = margin if amount_fen is None else amount_fen
    if amount <= 0:
        raise errors.SweepRefused(
            f"nothing to sweep: the margin is {Money(margin)}", margin_fen=margin
        )
    if amount > margin:
        raise errors.SweepRefused(f"at most {Money(margin)} can leave escrow", margin_fen=margin)
    sweep = RevenueSweep(
        operator_id=operator_id,
        amount_fen=amount,
        margin_before_fen=margin,
        transfer_id="",
        note=note,
        created_at=now,
    )
    session.add(sweep)
    session.flush()
    sweep.transfer_id = f"sweep:{sweep.id}"
    transfer(
        session,
        NewTransfer(
            id=sweep.transfer_id,
            debit_account_id=own.id,
            credit_account_id=escrow.id,
            amount=amount,
            code=Reason.REVENUE_SWEEP,
            ref=f"sweep:{sweep.id}",
            memo=f"revenue sweep by operator {operator_id}",
        ),
        now=now,
    )
    session.flush()
    log.info(
        "revenue swept from escrow to own funds",
        extra={"sweep_id": sweep.id, "operator_id": operator_id, "amount_fen": amount},
    )
    return sweep
