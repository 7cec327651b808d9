"""Finance staff's payout routes: withdrawal approvals, escrow and reconciliation."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from huafei.core.errors import NotFound
from huafei.core.money import Money
from huafei.core.types import Id, Text
from huafei.payouts import escrow, schemas
from huafei.payouts.deps import FinanceCtx, PayoutIdempotent, PayoutsDep, ReconcileCtx
from huafei.payouts.models import CaseStatus, WithdrawalStatus
from huafei.payouts.routes.callbacks import RailPath, rail_named
from huafei.payouts.service import reconcile, withdrawals
from huafei.web.idempotency import Work, json_fingerprint

router = APIRouter(prefix="/api/v1/finance", tags=["finance"])
StatementName = Annotated[
    Text | None,
    Header(alias="X-Statement-Name", max_length=255, description="the uploaded file's name"),
]


def finance_view(session: Session, withdrawal_id: int) -> schemas.FinanceWithdrawalOut:
    w = withdrawals.get_withdrawal(session, withdrawal_id)
    events = [
        schemas.WithdrawalEventOut(
            event=e.event, actor=e.actor, staff_id=e.staff_id,
            detail=json.loads(e.detail or "{}"), created_at=e.created_at,
        )
        for e in withdrawals.history(session, withdrawal_id)
    ]  # fmt: skip
    return schemas.FinanceWithdrawalOut(
        **schemas.WithdrawalOut.of(w).model_dump(), owner_ref=w.owner_ref, history=events
    )


def _once(
    idem: PayoutIdempotent, action: str, staff_id: int, body: Any, work: Work
) -> JSONResponse:
    scope = f"staff:{staff_id}:{action}"
    return idem.respond(principal=scope, path=scope, body=json_fingerprint(body), work=work)


def _decide(
    idem: PayoutIdempotent,
    action: str,
    staff_id: int,
    withdrawal_id: int,
    body: BaseModel,
    decide: Callable[[Session], object],
) -> JSONResponse:
    """A finance decision on a withdrawal, once per idempotency key; answers the withdrawal
    with its history."""

    def work(session: Session) -> tuple[int, Any]:
        decide(session)
        return 200, finance_view(session, withdrawal_id).model_dump(mode="json")

    fingerprint = {"withdrawal_id": withdrawal_id, **body.model_dump()}
    return _once(idem, action, staff_id, fingerprint, work)


# -- withdrawals --------------------------------------------------------------------------------
@router.get("/withdrawals", summary="Withdrawals by status (default: awaiting approval)")
def finance_withdrawals(
    ctx: FinanceCtx,
    status: WithdrawalStatus = WithdrawalStatus.AWAITING_APPROVAL,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[schemas.FinanceWithdrawalOut]:
    return ctx.run(
        lambda s: [
            finance_view(s, w.id)
            for w in withdrawals.list_withdrawals(s, status=status, limit=limit)
        ]
    )


@router.get("/withdrawals/{withdrawal_id}", summary="A withdrawal with its full history")
def finance_withdrawal(withdrawal_id: Id, ctx: FinanceCtx) -> schemas.FinanceWithdrawalOut:
    return ctx.run(lambda s: finance_view(s, withdrawal_id))


@router.post(
    "/withdrawals/{withdrawal_id}/approve",
    summary="Approve (four eyes: not by anyone who touched it)",
    response_model=schemas.FinanceWithdrawalOut,
)
def approve(
    withdrawal_id: Id, body: schemas.ApproveIn, ctx: FinanceCtx, idem: PayoutIdempotent
) -> JSONResponse:
    staff_id = ctx.staff.id
    return _decide(
        idem, "approve", staff_id, withdrawal_id, body,
        lambda s: withdrawals.approve_withdrawal(
            s, withdrawal_id=withdrawal_id, staff_id=staff_id, now=ctx.clock.now(),
            note=body.note,
        ),
    )  # fmt: skip


@router.post(
    "/withdrawals/{withdrawal_id}/reject",
    summary="Reject: the hold is released and the owner told why",
    response_model=schemas.FinanceWithdrawalOut,
)
def reject(
    withdrawal_id: Id,
    body: schemas.RejectIn,
    ctx: FinanceCtx,
    payouts: PayoutsDep,
    idem: PayoutIdempotent,
) -> JSONResponse:
    staff_id = ctx.staff.id
    return _decide(
        idem, "reject", staff_id, withdrawal_id, body,
        lambda s: withdrawals.reject_withdrawal(
            s, payouts=payouts, withdrawal_id=withdrawal_id, staff_id=staff_id,
            reason=body.reason, now=ctx.clock.now(),
        ),
    )  # fmt: skip


@router.post(
    "/withdrawals/{withdrawal_id}/notes",
    summary="Annotate a withdrawal (its author can no longer approve it)",
)
def annotate(
    withdrawal_id: Id, body: schemas.NoteIn, ctx: FinanceCtx
) -> schemas.FinanceWithdrawalOut:
    def work(session: Session) -> schemas.FinanceWithdrawalOut:
        withdrawals.annotate_withdrawal(
            session, withdrawal_id=withdrawal_id, staff_id=ctx.staff.id, note=body.note,
            now=ctx.now,
        )  # fmt: skip
        return finance_view(session, withdrawal_id)

    return ctx.run(work)


# -- escrow -------------------------------------------------------------------------------------
@router.get("/escrow", summary="Escrow against the sum of all wallets")
def escrow_position(ctx: FinanceCtx) -> schemas.EscrowOut:
    position = ctx.run(escrow.escrow_position)
    return schemas.EscrowOut(
        escrow_fen=position.escrow_fen, wallets_fen=position.wallets_fen,
        margin_fen=position.margin_fen, covered=position.covered,
    )  # fmt: skip


@router.post(
    "/escrow/sweeps",
    status_code=201,
    summary="Sweep platform revenue from escrow to own funds (logged, by operator)",
    response_model=schemas.SweepOut,
)
def sweep(body: schemas.SweepIn, ctx: FinanceCtx, idem: PayoutIdempotent) -> JSONResponse:
    staff_id = ctx.staff.id
    amount = Money.parse(body.amount).fen if body.amount else None

    def work(session: Session) -> tuple[int, Any]:
        done = escrow.sweep_revenue(
            session, operator_id=staff_id, now=ctx.clock.now(), amount_fen=amount,
            note=body.note,
        )  # fmt: skip
        out = schemas.SweepOut(
            id=done.id, operator_id=done.operator_id, amount_fen=done.amount_fen,
            margin_before_fen=done.margin_before_fen, transfer_id=done.transfer_id,
            created_at=done.created_at,
        )  # fmt: skip
        return 201, out.model_dump(mode="json")

    return _once(idem, "sweep", staff_id, body.model_dump(mode="json"), work)


# -- reconciliation -----------------------------------------------------------------------------
@router.post(
    "/reconciliation/{rail}/{day}",
    summary="Reconcile a day: the request body is the statement file, or empty to fetch it",
)
async def run_reconciliation(
    rail: RailPath,
    day: date,
    request: Request,
    ctx: ReconcileCtx,
    payouts: PayoutsDep,
    statement_name: StatementName = None,
) -> dict[str, Any]:
    name = rail_named(rail)
    data = await request.body()
    source = (statement_name or "upload") if data else "rail"
    if not data:
        data = await run_in_threadpool(payouts.rail(name).fetch_statement, day)
    statement = data
    report = await run_in_threadpool(
        ctx.run,
        lambda s: reconcile.reconcile_statement(
            s, payouts=payouts, rail=name, day=day, data=statement, source=source,
            now=ctx.clock.now(),
        ),
    )  # fmt: skip
    return {**report.summary(), "lines": report.lines}


@router.get("/reconciliation/{rail}/{day}", summary="A day's reconciliation report")
def reconciliation_report(rail: RailPath, day: date, ctx: ReconcileCtx) -> dict[str, Any]:
    report = ctx.run(lambda s: reconcile.run_report(s, rail=rail_named(rail), day=day))
    if report is None:
        raise NotFound(f"no reconciliation of {rail} for {day}")
    return report


def case_out(case: Any) -> schemas.CaseOut:
    return schemas.CaseOut(
        id=case.id, rail=case.rail, statement_date=case.statement_date.isoformat(),
        category=case.category, line_key=case.line_key, withdrawal_id=case.withdrawal_id,
        evidence=json.loads(case.evidence), status=case.status, created_at=case.created_at,
        resolved_at=case.resolved_at, resolved_by_staff_id=case.resolved_by_staff_id,
        resolution_note=case.resolution_note,
    )  # fmt: skip


@router.get("/reconciliation-cases", summary="Reconciliation cases (default: open)")
def cases(
    ctx: ReconcileCtx,
    status: CaseStatus | None = CaseStatus.OPEN,
    rail: Annotated[Text | None, Query(max_length=16)] = None,
) -> list[schemas.CaseOut]:
    rail_name = rail_named(rail) if rail else None
    return ctx.run(
        lambda s: [case_out(c) for c in reconcile.list_cases(s, status=status, rail=rail_name)]
    )


@router.post("/reconciliation-cases/{case_id}/resolve", summary="Close a case with a note")
def resolve(case_id: Id, body: schemas.ResolveIn, ctx: ReconcileCtx) -> schemas.CaseOut:
    return ctx.run(
        lambda s: case_out(
            reconcile.resolve_case(
                s, case_id=case_id, staff_id=ctx.staff.id, note=body.note, now=ctx.now
            )
        )
    )
