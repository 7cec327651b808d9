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

import hashlib
import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from huafei.core.days import day_end, day_start, local_day
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
from huafei.payouts.service.reconcile_book import (
    FAILED,
    SUCCEEDED,
    Category,
    ReconciliationReport,
    RunBook,
    entry_json,
    our_side,
)


def has_run(session: Session, *, rail: RailName, day: date) -> bool:
    """Whether the rail's statement for ``day`` was reconciled already."""
    return (
        session.scalar(
            select(ReconciliationRun.id).where(
                ReconciliationRun.rail == rail.value, ReconciliationRun.statement_date == day
            )
        )
        is not None
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
    run = _start_run(session, rail=rail, day=day, data=data, source=source, now=now)
    payout_ids = {e.payout_id for e in entries}
    work = RunBook(
        session, run, rail, day, now, earlier_open=_earlier_open(session, rail=rail, day=day)
    )
    known = _withdrawals(session, rail=rail, payout_ids=payout_ids)
    ours_paid = _paid_on(session, rail=rail, day=day)
    for entry in entries:
        _reconcile_entry(work, entry, known.get(entry.payout_id))
    for withdrawal in ours_paid:
        if withdrawal.payout_id not in payout_ids:
            _reconcile_unbooked(work, withdrawal, payouts=payouts)
    work.escalate_unresolved()
    report = ReconciliationReport(
        run_id=run.id,
        rail=rail,
        day=day,
        counts=work.counts,
        rail_lines=len(entries),
        rail_paid_fen=sum(e.amount_fen for e in entries if e.status == SUCCEEDED),
        our_paid_fen=sum(w.amount_fen for w in ours_paid),
        cases_opened=work.cases,
        timing_resolved=work.timing_resolved,
        timing_escalated=work.timing_escalated,
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


def _start_run(
    session: Session, *, rail: RailName, day: date, data: bytes, source: str, now: datetime
) -> ReconciliationRun:
    """The day's run, new or (run again) with its lines gone."""
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
    return run


def _withdrawals(
    session: Session, *, rail: RailName, payout_ids: set[str]
) -> dict[str, Withdrawal]:
    """Our withdrawals the statement names, by payout id."""
    return {
        w.payout_id: w
        for w in session.scalars(
            select(Withdrawal).where(
                Withdrawal.payout_id.in_(payout_ids), Withdrawal.rail == rail.value
            )
        )
    }


def _paid_on(session: Session, *, rail: RailName, day: date) -> list[Withdrawal]:
    """The withdrawals we completed as paid on ``day``."""
    return list(
        session.scalars(
            select(Withdrawal).where(
                Withdrawal.rail == rail.value,
                Withdrawal.status == WithdrawalStatus.PAID.value,
                Withdrawal.completed_at >= day_start(day),
                Withdrawal.completed_at < day_end(day),
            )
        )
    )


def _earlier_open(session: Session, *, rail: RailName, day: date) -> dict[str, ReconciliationLine]:
    """Timing differences earlier days left open, by payout id."""
    return {
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


def _reconcile_entry(work: RunBook, entry: StatementEntry, withdrawal: Withdrawal | None) -> None:
    """One line of the rail's statement against our withdrawal of that payout id."""
    rail_side = {"statement": entry_json(entry)}
    if withdrawal is None:
        work.line(
            Category.MISSING_ON_OUR_SIDE, payout_id=entry.payout_id, rail_ref=entry.rail_ref,
            rail_amount=entry.amount_fen, rail_status=entry.status, evidence=rail_side,
            note="the rail booked a payout we have no record of",
        )  # fmt: skip
        return
    ours = our_side(work.session, withdrawal)
    common: dict[str, Any] = {
        "payout_id": entry.payout_id, "rail_ref": entry.rail_ref,
        "withdrawal_id": withdrawal.id, "our_amount": ours.amount_fen,
        "rail_amount": entry.amount_fen, "our_status": ours.status,
        "rail_status": entry.status, "evidence": {**rail_side, **ours.evidence},
    }  # fmt: skip
    if ours.status != entry.status:
        work.line(Category.STATUS_MISMATCH, note="outcomes differ", **common)
        return
    if ours.amount_fen != entry.amount_fen:
        work.line(Category.AMOUNT_MISMATCH, note="amounts differ", **common)
        return
    our_day = local_day(withdrawal.completed_at) if withdrawal.completed_at else None
    if our_day == work.day or entry.status == FAILED:
        work.line(Category.MATCHED, **common)
        return
    note = work.resolve_earlier(entry.payout_id)
    if note is not None:
        work.line(Category.MATCHED, note=note, **common)
    else:
        # Booked by the rail after we completed it (its earlier day has the case, if any:
        # both sides agree now) or before (open until our completion day is reconciled).
        work.line(
            Category.TIMING_DIFFERENCE,
            note=f"booked by the rail on {work.day}, by us on {our_day}",
            still_open=our_day is None or our_day > work.day,
            **common,
        )


def _reconcile_unbooked(work: RunBook, withdrawal: Withdrawal, *, payouts: Payouts) -> None:
    """A withdrawal we paid that day which the statement does not list."""
    ours = our_side(work.session, withdrawal)
    common: dict[str, Any] = {
        "payout_id": withdrawal.payout_id, "rail_ref": withdrawal.rail_ref,
        "withdrawal_id": withdrawal.id, "our_amount": ours.amount_fen,
        "our_status": ours.status, "evidence": ours.evidence,
    }  # fmt: skip
    note = work.resolve_earlier(withdrawal.payout_id)
    completed = withdrawal.completed_at
    if note is not None:
        work.line(Category.MATCHED, note=note, **common)
    elif completed is not None and completed >= day_end(work.day) - payouts.timing_window:
        work.line(
            Category.TIMING_DIFFERENCE,
            note="completed shortly before midnight; expected on the next day's statement",
            **common,
        )
    else:
        work.line(Category.MISSING_AT_RAIL, note="we paid it; the rail did not book it", **common)


def run_report(session: Session, *, rail: RailName, day: date) -> dict[str, Any] | None:
    """The day's run with its lines, for finance; None when the day was not reconciled."""
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
    """Reconciliation cases, oldest first (by default the open ones of every rail)."""
    query = select(ReconciliationCase)
    if status is not None:
        query = query.where(ReconciliationCase.status == status.value)
    if rail is not None:
        query = query.where(ReconciliationCase.rail == rail.value)
    return list(session.scalars(query.order_by(ReconciliationCase.id)))


def resolve_case(
    session: Session, *, case_id: int, staff_id: int, note: str, now: datetime
) -> ReconciliationCase:
    """Finance closes a case with a note (closing a closed case changes nothing)."""
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
