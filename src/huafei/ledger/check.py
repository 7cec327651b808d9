"""``huafei ledger check``: prove the ledger sound from its transfers, or say what is wrong.

Checks, each reported with the account or transfer it concerns:

* every transfer is well formed: positive amount, two distinct accounts in the transfer's
  currency, its digest matches its fields (a row edited by hand is named);
* every post / void / expiry refers to a pending transfer, on the same accounts, for at most its
  amount (exactly, for void and expiry), and an expiry comes after the timeout;
* every account's four balances equal the sums of its transfers;
* no account breaks its ``debits_must_not_exceed_credits`` / ``credits_must_not_exceed_debits``
  flag;
* in total, debits equal credits, posted and pending;
* any extra invariant registered by a domain (the escrow invariant).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, and_, func, select
from sqlalchemy.orm import Session

from huafei.ledger.models import TransferKind
from huafei.ledger.records import ACCOUNTS, TRANSFERS, transfer_digest


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    subject: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.subject}: {self.message}"


@dataclass
class CheckReport:
    accounts: int = 0
    transfers: int = 0
    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def add(self, rule: str, subject: str, message: str) -> None:
        self.violations.append(Violation(rule, subject, message))

    def render(self) -> str:
        lines = [f"ledger check: {self.accounts} accounts, {self.transfers} transfers"]
        lines += [f"  {note}" for note in self.notes]
        if self.ok:
            lines.append("OK: every invariant holds")
        else:
            lines.append(f"FAILED: {len(self.violations)} violation(s)")
            lines += [f"  - {violation}" for violation in self.violations]
        return "\n".join(lines)


ExtraCheck = Callable[[Session, CheckReport], None]


def check_ledger(session: Session, extra_checks: tuple[ExtraCheck, ...] = ()) -> CheckReport:
    report = CheckReport()
    accounts = {row.id: row for row in session.execute(select(ACCOUNTS))}
    report.accounts = len(accounts)
    _check_transfers(session, report, accounts)
    _check_resolutions(session, report)
    _check_accounts(session, report, accounts)
    for extra in extra_checks:
        extra(session, report)
    return report


def _check_transfers(session: Session, report: CheckReport, accounts: dict[int, Row[Any]]) -> None:
    for row in session.execute(select(TRANSFERS).execution_options(yield_per=5000)):
        report.transfers += 1
        subject = f"transfer {row.id}"
        if row.amount <= 0:
            report.add("amount_positive", subject, f"amount is {row.amount} fen")
        if row.debit_account_id == row.credit_account_id:
            report.add("distinct_accounts", subject, "debits and credits the same account")
        for side in ("debit_account_id", "credit_account_id"):
            account = accounts.get(getattr(row, side))
            if account is None:
                report.add("account_exists", subject, f"{side} {getattr(row, side)} is unknown")
            elif account.currency != row.currency:
                report.add(
                    "currency", subject, f"{row.currency} transfer on {account.currency} account"
                )
        digest = transfer_digest(
            row.id,
            row.debit_account_id,
            row.credit_account_id,
            row.amount,
            row.currency,
            row.kind,
            row.pending_id,
        )
        if digest != row.digest:
            report.add(
                "digest",
                subject,
                "fields differ from those it was written with (edited outside the ledger?): "
                f"now {row.amount} fen from account {row.debit_account_id} "
                f"to account {row.credit_account_id}",
            )


def _check_resolutions(session: Session, report: CheckReport) -> None:
    r = TRANSFERS.alias("r")
    p = TRANSFERS.alias("p")
    query = (
        select(
            r.c.id,
            r.c.kind,
            r.c.amount,
            r.c.debit_account_id,
            r.c.credit_account_id,
            r.c.created_at,
            r.c.pending_id,
            p.c.id.label("p_id"),
            p.c.kind.label("p_kind"),
            p.c.amount.label("p_amount"),
            p.c.debit_account_id.label("p_debit"),
            p.c.credit_account_id.label("p_credit"),
            p.c.timeout_at.label("p_timeout"),
        )
        .select_from(r.outerjoin(p, p.c.id == r.c.pending_id))
        .where(r.c.pending_id.is_not(None))
        .execution_options(yield_per=5000)
    )
    for row in session.execute(query):
        subject = f"transfer {row.id}"
        if row.p_id is None:
            report.add("pending_exists", subject, f"refers to missing pending {row.pending_id}")
            continue
        if row.p_kind != TransferKind.PENDING:
            report.add("pending_kind", subject, f"resolves {row.p_id}, which is not pending")
            continue
        if (row.debit_account_id, row.credit_account_id) != (row.p_debit, row.p_credit):
            report.add("pending_accounts", subject, f"accounts differ from pending {row.p_id}")
        if row.amount > row.p_amount:
            report.add(
                "pending_amount", subject, f"{row.amount} fen exceeds pending {row.p_amount} fen"
            )
        elif row.kind != TransferKind.POST_PENDING and row.amount != row.p_amount:
            report.add("pending_amount", subject, f"releases {row.amount} of {row.p_amount} fen")
        if row.kind == TransferKind.EXPIRE_PENDING and (
            row.p_timeout is None or row.created_at < row.p_timeout
        ):
            report.add("expiry_after_timeout", subject, f"expired {row.p_id} before its timeout")


def _sums(session: Session) -> dict[int, dict[str, int]]:
    t = TRANSFERS
    resolution = TRANSFERS.alias("resolution")
    sums: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(BALANCE_COLUMNS, 0))
    posted = t.c.kind.in_([TransferKind.SINGLE.value, TransferKind.POST_PENDING.value])
    open_pending = and_(t.c.kind == TransferKind.PENDING.value, resolution.c.id.is_(None))
    source = t.outerjoin(resolution, resolution.c.pending_id == t.c.id)
    for side, prefix in (("debit_account_id", "debits"), ("credit_account_id", "credits")):
        column = t.c[side]
        for condition, suffix in ((posted, "posted"), (open_pending, "pending")):
            rows = session.execute(
                select(column, func.sum(t.c.amount))
                .select_from(source)
                .where(condition)
                .group_by(column)
            )
            for account_id, total in rows:
                sums[account_id][f"{prefix}_{suffix}"] = int(total)
    return sums


BALANCE_COLUMNS = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")


def _check_accounts(session: Session, report: CheckReport, accounts: dict[int, Row[Any]]) -> None:
    sums = _sums(session)
    zero = dict.fromkeys(BALANCE_COLUMNS, 0)
    for account_id, account in accounts.items():
        expected = sums.get(account_id, zero)
        subject = f"account {account_id} ({account.name})"
        for column in BALANCE_COLUMNS:
            stored = getattr(account, column)
            if stored != expected[column]:
                report.add(
                    "balance_matches_transfers",
                    subject,
                    f"{column} is {stored} fen but its transfers sum to {expected[column]} fen "
                    f"(difference {stored - expected[column]:+d})",
                )
        debits = account.debits_pending + account.debits_posted
        credit_total = account.credits_pending + account.credits_posted
        if account.debits_must_not_exceed_credits and debits > account.credits_posted:
            report.add(
                "debits_must_not_exceed_credits",
                subject,
                f"debits {debits} fen exceed posted credits {account.credits_posted} fen",
            )
        if account.credits_must_not_exceed_debits and credit_total > account.debits_posted:
            report.add(
                "credits_must_not_exceed_debits",
                subject,
                f"credits {credit_total} fen exceed posted debits {account.debits_posted} fen",
            )
    unknown = set(sums) - set(accounts)
    for account_id in sorted(unknown):
        report.add("account_exists", f"account {account_id}", "has transfers but does not exist")
    totals = {
        column: sum(getattr(a, column) for a in accounts.values()) for column in BALANCE_COLUMNS
    }
    for state in ("posted", "pending"):
        debit_total, credit_total = totals[f"debits_{state}"], totals[f"credits_{state}"]
        if debit_total != credit_total:
            report.add(
                "trial_balance", "ledger", f"{state} debits {debit_total} ≠ credits {credit_total}"
            )
