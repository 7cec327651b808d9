"""The book of one reconciliation run: its categories, the evidence of both sides, the lines
and cases it writes and its report (``reconcile.reconcile_statement`` drives it)."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.core.db import insert_ignoring_conflicts
from huafei.core.money import Money
from huafei.ledger import get_transfer, pending_state, transfers_by_ref
from huafei.ledger.models import TransferKind
from huafei.payouts.models import (
    CaseStatus,
    RailName,
    ReconciliationCase,
    ReconciliationLine,
    ReconciliationRun,
    Withdrawal,
    WithdrawalStatus,
)
from huafei.payouts.rails.statements import StatementEntry
from huafei.payouts.service.holds import hold_id, payout_transfer_id


class Category(enum.StrEnum):
    """What a statement line or a payout of ours turned out to be (the reconcile module's doc)."""

    MATCHED = "matched"
    MISSING_ON_OUR_SIDE = "missing_on_our_side"
    MISSING_AT_RAIL = "missing_at_rail"
    AMOUNT_MISMATCH = "amount_mismatch"
    STATUS_MISMATCH = "status_mismatch"
    TIMING_DIFFERENCE = "timing_difference"


CASE_CATEGORIES = frozenset(
    {
        Category.MISSING_ON_OUR_SIDE,
        Category.MISSING_AT_RAIL,
        Category.AMOUNT_MISMATCH,
        Category.STATUS_MISMATCH,
    }
)
SUCCEEDED, FAILED, IN_FLIGHT = "succeeded", "failed", "in_flight"


@dataclass
class ReconciliationReport:
    """A run's figures, and its lines for whoever runs it (the CLI prints the differences)."""

    run_id: int
    rail: RailName
    day: date
    counts: dict[str, int]
    rail_lines: int
    rail_paid_fen: int
    our_paid_fen: int
    cases_opened: int
    timing_resolved: int
    timing_escalated: int
    lines: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The figures kept with the run (``ReconciliationRun.summary``)."""
        return {
            "rail": self.rail.value,
            "date": self.day.isoformat(),
            "counts": self.counts,
            "rail_lines": self.rail_lines,
            "rail_paid_fen": self.rail_paid_fen,
            "our_paid_fen": self.our_paid_fen,
            "cases_opened": self.cases_opened,
            "timing_resolved": self.timing_resolved,
            "timing_escalated": self.timing_escalated,
        }

    def render(self) -> str:
        """The figures as the CLI prints them."""
        rail_paid = Money(self.rail_paid_fen)
        our_paid = Money(self.our_paid_fen)
        head = f"reconciliation {self.rail} {self.day}: {self.rail_lines} statement line(s)"
        lines = [f"{head}, rail paid {rail_paid}, we paid {our_paid}"]
        lines += [f"  {name}: {count}" for name, count in self.counts.items()]
        lines.append(
            f"  cases opened: {self.cases_opened}; timing differences resolved: "
            f"{self.timing_resolved}, escalated: {self.timing_escalated}"
        )
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class OurSide:
    """Our outcome of a payout, its amount and the evidence behind them."""

    status: str
    amount_fen: int
    evidence: dict[str, Any]


def our_side(session: Session, withdrawal: Withdrawal) -> OurSide:
    """Our outcome from the withdrawal record and, independently, from the ledger."""
    state = withdrawal.state
    if state is WithdrawalStatus.PAID:
        record = SUCCEEDED
    elif state.final:
        record = FAILED
    else:
        record = IN_FLIGHT
    hold = pending_state(session, hold_id(withdrawal.id))
    payout = get_transfer(session, payout_transfer_id(withdrawal.id))
    if hold is TransferKind.POST_PENDING and payout is not None:
        ledger = SUCCEEDED
    elif hold in (TransferKind.VOID_PENDING, TransferKind.EXPIRE_PENDING):
        ledger = FAILED
    else:
        ledger = IN_FLIGHT
    evidence = {
        "withdrawal": {
            "id": withdrawal.id,
            "payout_id": withdrawal.payout_id,
            "owner_ref": withdrawal.owner_ref,
            "status": withdrawal.status,
            "amount_fen": withdrawal.amount_fen,
            "fee_fen": withdrawal.fee_fen,
            "rail_ref": withdrawal.rail_ref,
            "completed_at": withdrawal.completed_at.isoformat()
            if withdrawal.completed_at
            else None,
        },
        "ledger": [
            {
                "id": t.id,
                "kind": t.kind.value,
                "amount_fen": t.amount,
                "at": t.created_at.isoformat(),
            }
            for t in transfers_by_ref(session, withdrawal.payout_id)
        ],
        "ledger_status": ledger,
    }
    status = record if record == ledger else f"{record}/ledger:{ledger}"
    amount = payout.amount if payout is not None else withdrawal.amount_fen
    return OurSide(status, amount, evidence)


def entry_json(entry: StatementEntry) -> dict[str, Any]:
    """A statement line as evidence."""
    return {
        "payout_id": entry.payout_id,
        "rail_ref": entry.rail_ref,
        "amount_fen": entry.amount_fen,
        "status": entry.status,
        "booked_at": entry.booked_at.isoformat(),
        "account": entry.account_masked,
        "reason": entry.reason,
    }


class RunBook:
    """One reconciliation in progress: writes its lines and cases, counts them, and settles the
    timing differences that earlier days left open (``earlier_open``, by payout id)."""

    def __init__(
        self,
        session: Session,
        run: ReconciliationRun,
        rail: RailName,
        day: date,
        now: datetime,
        *,
        earlier_open: dict[str, ReconciliationLine],
    ) -> None:
        self.session = session
        self.run = run
        self.rail = rail
        self.day = day
        self.now = now
        self.counts = {c.value: 0 for c in Category}
        self.cases = 0
        self.lines: list[dict[str, Any]] = []
        self.earlier_open = earlier_open
        self.timing_resolved = 0
        self.timing_escalated = 0

    def line(
        self,
        category: Category,
        *,
        payout_id: str | None,
        rail_ref: str | None = None,
        withdrawal_id: int | None = None,
        our_amount: int | None = None,
        rail_amount: int | None = None,
        our_status: str | None = None,
        rail_status: str | None = None,
        note: str = "",
        evidence: dict[str, Any] | None = None,
        still_open: bool = True,
    ) -> None:
        """Write a line of ``category`` (and its case, for a category that opens one)."""
        self.counts[category.value] += 1
        is_open = category is Category.TIMING_DIFFERENCE and still_open
        self.session.add(
            ReconciliationLine(
                run_id=self.run.id, category=category.value, payout_id=payout_id,
                rail_ref=rail_ref, withdrawal_id=withdrawal_id, our_amount_fen=our_amount,
                rail_amount_fen=rail_amount, our_status=our_status, rail_status=rail_status,
                note=note, open=is_open,
                resolved_at=None if is_open or category is not Category.TIMING_DIFFERENCE
                else self.now,
            )
        )  # fmt: skip
        self.lines.append(
            {
                "category": category.value, "payout_id": payout_id, "rail_ref": rail_ref,
                "our_amount_fen": our_amount, "rail_amount_fen": rail_amount,
                "our_status": our_status, "rail_status": rail_status, "note": note,
            }
        )  # fmt: skip
        if category in CASE_CATEGORIES:
            self.case(category, payout_id or rail_ref or "?", withdrawal_id, evidence or {}, note)

    def case(
        self,
        category: Category,
        key: str,
        withdrawal_id: int | None,
        evidence: dict[str, Any],
        note: str,
        day: date | None = None,
    ) -> None:
        """Open a case for finance (once per rail, day, category and key)."""
        evidence = {
            **evidence,
            "note": note,
            "run_id": self.run.id,
            "statement_source": self.run.source,
            "statement_sha256": self.run.statement_sha256,
        }
        self.cases += insert_ignoring_conflicts(
            self.session,
            ReconciliationCase.__table__,
            [
                {
                    "rail": self.rail.value,
                    "statement_date": day or self.day,
                    "category": category.value,
                    "line_key": key[:80],
                    "withdrawal_id": withdrawal_id,
                    "evidence": json.dumps(evidence, ensure_ascii=False, sort_keys=True),
                    "status": CaseStatus.OPEN.value,
                    "created_at": self.now,
                    "resolved_at": None,
                    "resolved_by_staff_id": None,
                    "resolution_note": None,
                }
            ],
        )

    def resolve_earlier(self, payout_id: str) -> str | None:
        """Close an earlier day's open timing difference of this payout; the note saying so, or
        None when there was none."""
        earlier = self.earlier_open.pop(payout_id, None)
        if earlier is None:
            return None
        earlier.open = False
        earlier.resolved_at = self.now
        earlier.resolved_by_run_id = self.run.id
        self.timing_resolved += 1
        return f"timing difference of an earlier day resolved by the {self.day} statement"

    def escalate_unresolved(self) -> None:
        """The earlier timing differences this day did not match are real differences now."""
        for payout_id, earlier in self.earlier_open.items():
            # Its next day came and did not match it: a real difference now.
            earlier.open = False
            earlier.resolved_at = self.now
            earlier.resolved_by_run_id = self.run.id
            earlier_day = self.session.scalar(
                select(ReconciliationRun.statement_date).where(
                    ReconciliationRun.id == earlier.run_id
                )
            )
            # Only our side had it: the rail never booked it; else we never completed it in time.
            category = (
                Category.MISSING_AT_RAIL
                if earlier.rail_amount_fen is None
                else Category.MISSING_ON_OUR_SIDE
            )
            self.case(
                category,
                payout_id,
                earlier.withdrawal_id,
                {"timing_line": earlier.id, "timing_note": earlier.note},
                "timing difference not resolved by the next day's statement",
                day=earlier_day,
            )
            self.timing_escalated += 1
