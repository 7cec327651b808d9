"""Daily reconciliation of a rail's statement against our payouts and the ledger.

Every statement line and every payout we completed that day gets one category:

* ``matched`` — both sides agree on amount and outcome, on the same day;
* ``missing_on_our_side`` — the rail booked a payout id we have no withdrawal for;
* ``missing_at_rail`` — we paid (the ledger posted it) but the rail's statement lacks it;
* ``amount_mismatch`` — both sides know it, the amounts differ;
* ``status_mismatch`` — both sides know it, the outcomes differ (or our record and our ledger
  disagree with each other);
* ``timing_difference`` — both sides agree but on different days (a payout finished around
  midnight). It stays open and is resolved automatically when the next day's statement matches;
  if the next day's run does not match it, it becomes a ``missing_at_rail`` /
  ``missing_on_our_side`` case.

Every category but ``matched`` and ``timing_difference`` opens a case for finance with the
evidence: the statement line, the statement's SHA-256, our withdrawal and its ledger transfers.
Running a day again replaces that day's lines; cases are never duplicated.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from huafei.core.days import day_end, day_start, local_day
from huafei.core.db import insert_ignoring_conflicts
from huafei.core.money import Money
from huafei.ledger import get_transfer, pending_state, transfers_by_ref
from huafei.ledger.models import TransferKind
from huafei.notices.service import FINANCE_INBOX, NoticeKind
from huafei.payouts import errors
from huafei.payouts.config import Payouts
from huafei.payouts.models import (
    CaseStatus,
    RailName,
    ReconciliationCase,
    ReconciliationLine,
    ReconciliationRun,
    Withdrawal,
    WithdrawalStatus,
)
from huafei.payouts.rails import statements
from huafei.payouts.rails.statements import StatementEntry
from huafei.payouts.service.holds import hold_id, payout_transfer_id


class Category(enum.StrEnum):
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
class _OurSide:
    status: str
    amount_fen: int
    evidence: dict[str, Any]


def has_run(session: Session, *, rail: RailName, day: date) -> bool:
    return (
        session.scalar(
            select(ReconciliationRun.id).where(
                ReconciliationRun.rail == rail.value, ReconciliationRun.statement_date == day
            )
        )
        is not None
    )


def _our_side(session: Session, withdrawal: Withdrawal) -> _OurSide:
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
    return _OurSide(status, amount, evidence)


def _entry_json(entry: StatementEntry) -> dict[str, Any]:
    return {
        "payout_id": entry.payout_id,
        "rail_ref": entry.rail_ref,
        "amount_fen": entry.amount_fen,
        "status": entry.status,
        "booked_at": entry.booked_at.isoformat(),
        "account": entry.account_masked,
        "reason": entry.reason,
    }


class _Run:
    """One reconciliation in progress: collects lines and cases."""

    def __init__(
        self, session: Session, run: ReconciliationRun, rail: RailName, day: date, now: datetime
    ) -> None:
        self.session = session
        self.run = run
        self.rail = rail
        self.day = day
        self.now = now
        self.counts = {c.value: 0 for c in Category}
        self.cases = 0
        self.lines: list[dict[str, Any]] = []

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


def reconcile_statement(
    session: Session,
    *,
    payouts: Payouts,
    rail: RailName,
    day: date,
    data: bytes,
    source: str,
    now: datetime,
) -> ReconciliationReport:
    """Reconcile the rail's statement file for ``day`` (Beijing time); see the module doc."""
    try:
        entries = statements.parse(rail, data)
    except statements.StatementFormatError as exc:
        raise errors.StatementUnreadable(exc.detail, rail=rail.value) from None
    digest = hashlib.sha256(data).hexdigest()
    run = session.scalars(
        select(ReconciliationRun).where(
            ReconciliationRun.rail == rail.value, ReconciliationRun.statement_date == day
        )
    ).one_or_none()
    if run is None:
        run = ReconciliationRun(
            rail=rail.value, statement_date=day, source=source[:255], statement_sha256=digest,
            summary="{}", created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(run)
        session.flush()
    else:
        session.execute(delete(ReconciliationLine).where(ReconciliationLine.run_id == run.id))
        run.source, run.statement_sha256, run.updated_at = source[:255], digest, now
    work = _Run(session, run, rail, day, now)

    payout_ids = {e.payout_id for e in entries}
    known = {
        w.payout_id: w
        for w in session.scalars(
            select(Withdrawal).where(
                Withdrawal.payout_id.in_(payout_ids), Withdrawal.rail == rail.value
            )
        )
    }
    ours_paid = list(
        session.scalars(
            select(Withdrawal).where(
                Withdrawal.rail == rail.value,
                Withdrawal.status == WithdrawalStatus.PAID.value,
                Withdrawal.completed_at >= day_start(day),
                Withdrawal.completed_at < day_end(day),
            )
        )
    )
    earlier_open = {
        line.payout_id: line
        for line in session.scalars(
            select(ReconciliationLine)
            .join(ReconciliationRun, ReconciliationRun.id == ReconciliationLine.run_id)
            .where(
                ReconciliationRun.rail == rail.value,
                ReconciliationRun.statement_date < day,
                ReconciliationLine.open.is_(True),
            )
        )
        if line.payout_id
    }
    resolved = 0

    def resolve_earlier(payout_id: str) -> str | None:
        nonlocal resolved
        earlier = earlier_open.pop(payout_id, None)
        if earlier is None:
            return None
        earlier.open = False
        earlier.resolved_at = now
        earlier.resolved_by_run_id = run.id
        resolved += 1
        return f"timing difference of an earlier day resolved by the {day} statement"

    for entry in entries:
        withdrawal = known.get(entry.payout_id)
        rail_side = {"statement": _entry_json(entry)}
        if withdrawal is None:
            work.line(
                Category.MISSING_ON_OUR_SIDE, payout_id=entry.payout_id, rail_ref=entry.rail_ref,
                rail_amount=entry.amount_fen, rail_status=entry.status, evidence=rail_side,
                note="the rail booked a payout we have no record of",
            )  # fmt: skip
            continue
        ours = _our_side(session, withdrawal)
        common: dict[str, Any] = {
            "payout_id": entry.payout_id, "rail_ref": entry.rail_ref,
            "withdrawal_id": withdrawal.id, "our_amount": ours.amount_fen,
            "rail_amount": entry.amount_fen, "our_status": ours.status,
            "rail_status": entry.status, "evidence": {**rail_side, **ours.evidence},
        }  # fmt: skip
        if ours.status != entry.status:
            work.line(Category.STATUS_MISMATCH, note="outcomes differ", **common)
            continue
        if ours.amount_fen != entry.amount_fen:
            work.line(Category.AMOUNT_MISMATCH, note="amounts differ", **common)
            continue
        our_day = local_day(withdrawal.completed_at) if withdrawal.completed_at else None
        if our_day == day or entry.status == FAILED:
            work.line(Category.MATCHED, **common)
            continue
        note = resolve_earlier(entry.payout_id)
        if note is not None:
            work.line(Category.MATCHED, note=note, **common)
        else:
            # Booked by the rail after we completed it (its earlier day has the case, if any:
            # both sides agree now) or before (open until our completion day is reconciled).
            work.line(
                Category.TIMING_DIFFERENCE,
                note=f"booked by the rail on {day}, by us on {our_day}",
                still_open=our_day is None or our_day > day,
                **common,
            )

    for withdrawal in ours_paid:
        if withdrawal.payout_id in payout_ids:
            continue
        ours = _our_side(session, withdrawal)
        common = {
            "payout_id": withdrawal.payout_id, "rail_ref": withdrawal.rail_ref,
            "withdrawal_id": withdrawal.id, "our_amount": ours.amount_fen,
            "our_status": ours.status, "evidence": ours.evidence,
        }  # fmt: skip
        note = resolve_earlier(withdrawal.payout_id)
        completed = withdrawal.completed_at
        if note is not None:
            work.line(Category.MATCHED, note=note, **common)
        elif completed is not None and completed >= day_end(day) - payouts.timing_window:
            work.line(
                Category.TIMING_DIFFERENCE,
                note="completed shortly before midnight; expected on the next day's statement",
                **common,
            )
        else:
            work.line(
                Category.MISSING_AT_RAIL, note="we paid it; the rail did not book it", **common
            )

    escalated = 0
    for payout_id, earlier in earlier_open.items():
        # Its next day came and did not match it: a real difference now.
        earlier.open = False
        earlier.resolved_at = now
        earlier.resolved_by_run_id = run.id
        earlier_day = session.scalar(
            select(ReconciliationRun.statement_date).where(ReconciliationRun.id == earlier.run_id)
        )
        # Only our side had it: the rail never booked it; else we never completed it in time.
        category = (
            Category.MISSING_AT_RAIL
            if earlier.rail_amount_fen is None
            else Category.MISSING_ON_OUR_SIDE
        )
        work.case(
            category,
            payout_id,
            earlier.withdrawal_id,
            {"timing_line": earlier.id, "timing_note": earlier.note},
            "timing difference not resolved by the next day's statement",
            day=earlier_day,
        )
        escalated += 1

    report = ReconciliationReport(
        run_id=run.id,
        rail=rail,
        day=day,
        counts=work.counts,
        rail_lines=len(entries),
        rail_paid_fen=sum(e.amount_fen for e in entries if e.status == SUCCEEDED),
        our_paid_fen=sum(w.amount_fen for w in ours_paid),
        cases_opened=work.cases,
        timing_resolved=resolved,
        timing_escalated=escalated,
        lines=work.lines,
    )
    run.summary = json.dumps(report.summary(), ensure_ascii=False, sort_keys=True)
    if work.cases:
        payouts.notifier.notify(
            session,
            owner_ref=FINANCE_INBOX,
            kind=NoticeKind.RECONCILIATION,
            title=f"{rail.value} {day} 对账差异",
            body=f"{rail.value} 通道 {day} 对账发现 {work.cases} 个需处理的差异。",
            ref=f"reconciliation:{rail.value}:{day}",
            now=now,
        )
    session.flush()
    return report


def run_report(session: Session, *, rail: RailName, day: date) -> dict[str, Any] | None:
    run = session.scalars(
        select(ReconciliationRun).where(
            ReconciliationRun.rail == rail.value, ReconciliationRun.statement_date == day
        )
    ).one_or_none()
    if run is None:
        return None
    lines = session.scalars(
        select(ReconciliationLine)
        .where(ReconciliationLine.run_id == run.id)
        .order_by(ReconciliationLine.id)
    )
    return {
        "run_id": run.id,
        "source": run.source,
        "statement_sha256": run.statement_sha256,
        "summary": json.loads(run.summary),
        "lines": [
            {
                "category": line.category,
                "payout_id": line.payout_id,
                "rail_ref": line.rail_ref,
                "our_amount_fen": line.our_amount_fen,
                "rail_amount_fen": line.rail_amount_fen,
                "our_status": line.our_status,
                "rail_status": line.rail_status,
                "note": line.note,
                "open": line.open,
                "resolved_at": line.resolved_at.isoformat() if line.resolved_at else None,
            }
            for line in lines
        ],
    }


def list_cases(
    session: Session, *, status: CaseStatus | None = CaseStatus.OPEN, rail: RailName | None = None
) -> list[ReconciliationCase]:
    query = select(ReconciliationCase)
    if status is not None:
        query = query.where(ReconciliationCase.status == status.value)
    if rail is not None:
        query = query.where(ReconciliationCase.rail == rail.value)
    return list(session.scalars(query.order_by(ReconciliationCase.id)))


def resolve_case(
    session: Session, *, case_id: int, staff_id: int, note: str, now: datetime
) -> ReconciliationCase:
    case = session.get(ReconciliationCase, case_id)
    if case is None:
        raise errors.CaseNotFound(f"reconciliation case {case_id} not found")
    if case.status == CaseStatus.RESOLVED.value:
        return case
    case.status = CaseStatus.RESOLVED.value
    case.resolved_at = now
    case.resolved_by_staff_id = staff_id
    case.resolution_note = note
    session.flush()
    return case
