"""HTTP routes of the payout domain: methods, withdrawals, rail callbacks, finance operations.

Money-moving POSTs need an ``Idempotency-Key`` header: the same key and body answer with the
first response (``Idempotent-Replayed: true``), the same key with another body is a 409 problem.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from huafei.container import Container
from huafei.core.errors import NotFound
from huafei.core.idempotency import run_idempotent
from huafei.core.money import Money
from huafei.core.types import Id, Text
from huafei.identity.deps import origin_of, raise_refused
from huafei.payouts import escrow, schemas
from huafei.payouts.deps import (
    CurrentOwner,
    CurrentStaff,
    IdempotencyKeyHeader,
    ReconcileStaff,
    container_of,
)
from huafei.payouts.errors import UnknownRail
from huafei.payouts.models import CaseStatus, RailName, WithdrawalStatus
from huafei.payouts.service import methods, reconcile, settle, withdrawals
from huafei.web.idempotency import idempotent_response

router = APIRouter(prefix="/api/v1", tags=["payouts"])
RailPath = Annotated[Text, Path(max_length=16, description="bank, alipay, wechat or ecny")]
callbacks = APIRouter(tags=["callbacks"])


def idempotent(
    container: Container,
    *,
    scope: str,
    key: str | None,
    body: Any,
    work: Callable[[Session], tuple[int, Any]],
) -> JSONResponse:
    """Run ``work`` once per idempotency key, in the same unit of work as the key."""
    outcome = run_idempotent(
        container.db,
        container.clock,
        principal=scope,
        key=key,
        method="POST",
        path=scope,
        body=json.dumps(body, sort_keys=True, default=str).encode(),
        handler=work,
    )
    return idempotent_response(outcome)


def _method_out(method: Any) -> schemas.MethodOut:
    v = methods.view(method)
    return schemas.MethodOut(
        id=v.id, kind=v.kind, account_masked=v.account_masked,
        holder_name_masked=v.holder_name_masked, bank_code=v.bank_code, bank_name=v.bank_name,
        created_at=v.created_at,
    )  # fmt: skip


def _rail(name: str) -> RailName:
    try:
        return RailName(name)
    except ValueError:
        raise UnknownRail(f"no payout rail {name!r}", rail=name) from None


# -- payout methods -----------------------------------------------------------------------------
@router.get("/payout-methods", summary="The caller's payout methods (masked)")
def list_payout_methods(request: Request, owner: CurrentOwner) -> list[schemas.MethodOut]:
    container = container_of(request)
    return container.db.run(lambda s: [_method_out(m) for m in methods.list_methods(s, owner.ref)])


@router.post(
    "/payout-methods/sms-code",
    status_code=202,
    summary="Text a code that confirms adding a payout method",
    responses={429: {}},
)
def request_method_code(request: Request, owner: CurrentOwner) -> dict[str, int]:
    container = container_of(request)
    now = container.clock.now()
    issued = raise_refused(
        container.db.run(
            lambda s: methods.issue_method_code(
                s,
                phone=owner.phone,
                keyring=container.keyring,
                limiter=container.rate_limiter,
                origin=origin_of(request),
                now=now,
            )
        )
    )
    container.sms.send(issued.phone, methods.method_code_text(issued, now))
    return {
        "expires_in_seconds": int((issued.expires_at - now).total_seconds()),
        "resend_after_seconds": int((issued.resend_after - now).total_seconds()),
    }


@router.post(
    "/payout-methods",
    status_code=201,
    summary="Add a bank card, Alipay, WeChat or e-CNY account (real name + SMS code)",
)
def add_payout_method(
    body: schemas.MethodIn, request: Request, owner: CurrentOwner
) -> schemas.MethodOut:
    container = container_of(request)
    payouts = container.payouts
    # The code is checked in the unit of work that stores the method: a wrong try is counted
    # (returned, committed, then raised); a refused account leaves the code live.
    added = raise_refused(
        container.db.run(
            lambda s: methods.add_method(
                s, owner_ref=owner.ref, phone=owner.phone, kind=body.kind,
                account_no=body.account_no, holder_name=body.holder_name,
                verified_real_name=owner.verified_real_name, sms_code=body.sms_code,
                keyring=payouts.keyring, now=container.clock.now(),
            )
        )
    )  # fmt: skip
    return _method_out(added)


@router.delete("/payout-methods/{method_id}", status_code=204, summary="Remove a payout method")
def remove_payout_method(method_id: Id, request: Request, owner: CurrentOwner) -> Response:
    container = container_of(request)
    container.db.run(
        lambda s: methods.remove_method(
            s, owner_ref=owner.ref, method_id=method_id, now=container.clock.now()
        )
    )
    return Response(status_code=204)


# -- withdrawals --------------------------------------------------------------------------------
@router.post("/withdrawals/quote", summary="Fee, total and limits before confirming")
def quote(body: schemas.QuoteIn, request: Request, owner: CurrentOwner) -> schemas.QuoteOut:
    container = container_of(request)
    amount = Money.parse(body.amount).fen
    q = container.db.run(
        lambda s: withdrawals.quote_withdrawal(
            s, payouts=container.payouts, owner_ref=owner.ref, method_id=body.method_id,
            amount_fen=amount, now=container.clock.now(),
        )
    )  # fmt: skip
    refused = q.refused
    return schemas.QuoteOut(
        **{k: getattr(q, k) for k in q.__dataclass_fields__ if k != "refused"},
        refusal=None if refused is None else schemas.QuoteRefusal(
            code=refused.code, detail=refused.detail, extra=refused.extra
        ),
        amount=Money(q.amount_fen).plain(), fee=Money(q.fee_fen).plain(),
        total=Money(q.total_fen).plain(),
    )  # fmt: skip


@router.post(
    "/withdrawals",
    status_code=201,
    summary="Withdraw to a payout method (needs an Idempotency-Key header)",
    response_model=schemas.WithdrawalOut,
)
def request_withdrawal(
    body: schemas.WithdrawalIn,
    request: Request,
    owner: CurrentOwner,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    container = container_of(request)
    amount = Money.parse(body.amount).fen

    def work(session: Session) -> tuple[int, Any]:
        withdrawal, _created = withdrawals.request_withdrawal(
            session, payouts=container.payouts, owner_ref=owner.ref, method_id=body.method_id,
            amount_fen=amount, idempotency_key=idempotency_key or "",
            now=container.clock.now(), expected_fee_fen=body.fee_fen,
        )  # fmt: skip
        return 201, schemas.WithdrawalOut.of(withdrawal).model_dump(mode="json")

    return idempotent(
        container,
        scope=f"{owner.ref}:withdrawals",
        key=idempotency_key,
        body=body.model_dump(mode="json"),
        work=work,
    )


@router.get("/withdrawals", summary="The caller's withdrawals, newest first")
def list_my_withdrawals(
    request: Request, owner: CurrentOwner, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[schemas.WithdrawalOut]:
    container = container_of(request)
    return container.db.run(
        lambda s: [
            schemas.WithdrawalOut.of(w)
            for w in withdrawals.list_withdrawals(s, owner_ref=owner.ref, limit=limit)
        ]
    )


@router.get("/withdrawals/{withdrawal_id}", summary="One of the caller's withdrawals")
def get_my_withdrawal(
    withdrawal_id: Id, request: Request, owner: CurrentOwner
) -> schemas.WithdrawalOut:
    container = container_of(request)
    return container.db.run(
        lambda s: schemas.WithdrawalOut.of(withdrawals.get_withdrawal(s, withdrawal_id, owner.ref))
    )


@router.post(
    "/withdrawals/{withdrawal_id}/cancel",
    summary="Take back a withdrawal that waits for approval or sending",
    response_model=schemas.WithdrawalOut,
)
def cancel_my_withdrawal(
    withdrawal_id: Id,
    request: Request,
    owner: CurrentOwner,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    container = container_of(request)

    def work(session: Session) -> tuple[int, Any]:
        w = withdrawals.cancel_withdrawal(
            session, payouts=container.payouts, owner_ref=owner.ref,
            withdrawal_id=withdrawal_id, now=container.clock.now(),
        )  # fmt: skip
        return 200, schemas.WithdrawalOut.of(w).model_dump(mode="json")

    return idempotent(
        container, scope=f"{owner.ref}:withdrawals:cancel", key=idempotency_key,
        body={"withdrawal_id": withdrawal_id}, work=work,
    )  # fmt: skip


# -- rail callbacks -----------------------------------------------------------------------------
@callbacks.post(
    "/callbacks/rails/{rail}",
    response_class=PlainTextResponse,
    summary="Signed payout results from a rail; answers SUCCESS once recorded",
    tags=["callbacks"],
)
async def rail_callback(rail: RailPath, request: Request) -> PlainTextResponse:
    container = container_of(request)
    name = _rail(rail)
    body = await request.body()
    result = container.payouts.rail(name).parse_callback(dict(request.headers), body)
    now = container.clock.now()
    await run_in_threadpool(
        container.db.run,
        lambda s: settle.receive_notification(
            s, payouts=container.payouts, rail=name, result=result, body=body, now=now
        ),
    )
    return PlainTextResponse("SUCCESS")


# -- finance ------------------------------------------------------------------------------------
finance = APIRouter(prefix="/api/v1/finance", tags=["finance"])


def _finance_view(session: Session, withdrawal_id: int) -> schemas.FinanceWithdrawalOut:
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


@finance.get("/withdrawals", summary="Withdrawals by status (default: awaiting approval)")
def finance_withdrawals(
    request: Request,
    _staff: CurrentStaff,
    status: WithdrawalStatus = WithdrawalStatus.AWAITING_APPROVAL,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[schemas.FinanceWithdrawalOut]:
    container = container_of(request)
    return container.db.run(
        lambda s: [
            _finance_view(s, w.id)
            for w in withdrawals.list_withdrawals(s, status=status, limit=limit)
        ]
    )


@finance.get("/withdrawals/{withdrawal_id}", summary="A withdrawal with its full history")
def finance_withdrawal(
    withdrawal_id: Id, request: Request, _staff: CurrentStaff
) -> schemas.FinanceWithdrawalOut:
    container = container_of(request)
    return container.db.run(lambda s: _finance_view(s, withdrawal_id))


@finance.post(
    "/withdrawals/{withdrawal_id}/approve",
    summary="Approve (four eyes: not by anyone who touched it)",
    response_model=schemas.FinanceWithdrawalOut,
)
def approve(
    withdrawal_id: Id,
    body: schemas.ApproveIn,
    request: Request,
    staff_id: CurrentStaff,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    container = container_of(request)

    def work(session: Session) -> tuple[int, Any]:
        withdrawals.approve_withdrawal(
            session, withdrawal_id=withdrawal_id, staff_id=staff_id, now=container.clock.now(),
            note=body.note,
        )  # fmt: skip
        return 200, _finance_view(session, withdrawal_id).model_dump(mode="json")

    return idempotent(
        container, scope=f"staff:{staff_id}:approve", key=idempotency_key,
        body={"withdrawal_id": withdrawal_id, **body.model_dump()}, work=work,
    )  # fmt: skip


@finance.post(
    "/withdrawals/{withdrawal_id}/reject",
    summary="Reject: the hold is released and the owner told why",
    response_model=schemas.FinanceWithdrawalOut,
)
def reject(
    withdrawal_id: Id,
    body: schemas.RejectIn,
    request: Request,
    staff_id: CurrentStaff,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    container = container_of(request)

    def work(session: Session) -> tuple[int, Any]:
        withdrawals.reject_withdrawal(
            session, payouts=container.payouts, withdrawal_id=withdrawal_id, staff_id=staff_id,
            reason=body.reason, now=container.clock.now(),
        )  # fmt: skip
        return 200, _finance_view(session, withdrawal_id).model_dump(mode="json")

    return idempotent(
        container, scope=f"staff:{staff_id}:reject", key=idempotency_key,
        body={"withdrawal_id": withdrawal_id, **body.model_dump()}, work=work,
    )  # fmt: skip


@finance.post(
    "/withdrawals/{withdrawal_id}/notes",
    summary="Annotate a withdrawal (its author can no longer approve it)",
)
def annotate(
    withdrawal_id: Id,
    body: schemas.NoteIn,
    request: Request,
    staff_id: CurrentStaff,
) -> schemas.FinanceWithdrawalOut:
    container = container_of(request)

    def work(session: Session) -> schemas.FinanceWithdrawalOut:
        withdrawals.annotate_withdrawal(
            session, withdrawal_id=withdrawal_id, staff_id=staff_id, note=body.note,
            now=container.clock.now(),
        )  # fmt: skip
        return _finance_view(session, withdrawal_id)

    return container.db.run(work)


@finance.get("/escrow", summary="Escrow against the sum of all wallets")
def escrow_position(request: Request, _staff: CurrentStaff) -> schemas.EscrowOut:
    container = container_of(request)
    position = container.db.run(escrow.escrow_position)
    return schemas.EscrowOut(
        escrow_fen=position.escrow_fen, wallets_fen=position.wallets_fen,
        margin_fen=position.margin_fen, covered=position.covered,
    )  # fmt: skip


@finance.post(
    "/escrow/sweeps",
    status_code=201,
    summary="Sweep platform revenue from escrow to own funds (logged, by operator)",
    response_model=schemas.SweepOut,
)
def sweep(
    body: schemas.SweepIn,
    request: Request,
    staff_id: CurrentStaff,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    container = container_of(request)
    amount = Money.parse(body.amount).fen if body.amount else None

    def work(session: Session) -> tuple[int, Any]:
        done = escrow.sweep_revenue(
            session, operator_id=staff_id, now=container.clock.now(), amount_fen=amount,
            note=body.note,
        )  # fmt: skip
        out = schemas.SweepOut(
            id=done.id, operator_id=done.operator_id, amount_fen=done.amount_fen,
            margin_before_fen=done.margin_before_fen, transfer_id=done.transfer_id,
            created_at=done.created_at,
        )  # fmt: skip
        return 201, out.model_dump(mode="json")

    return idempotent(
        container, scope=f"staff:{staff_id}:sweep", key=idempotency_key,
        body=body.model_dump(mode="json"), work=work,
    )  # fmt: skip


@finance.post(
    "/reconciliation/{rail}/{day}",
    summary="Reconcile a day: the request body is the statement file, or empty to fetch it",
)
async def run_reconciliation(
    rail: RailPath,
    day: date,
    request: Request,
    _staff: ReconcileStaff,
    statement_name: Annotated[
        Text | None,
        Header(alias="X-Statement-Name", max_length=255, description="the uploaded file's name"),
    ] = None,
) -> dict[str, Any]:
    container = container_of(request)
    name = _rail(rail)
    data = await request.body()
    source = (statement_name or "upload") if data else "rail"
    if not data:
        data = await run_in_threadpool(container.payouts.rail(name).fetch_statement, day)
    report = await run_in_threadpool(
        container.db.run,
        lambda s: reconcile.reconcile_statement(
            s, payouts=container.payouts, rail=name, day=day, data=data, source=source,
            now=container.clock.now(),
        ),
    )  # fmt: skip
    return {**report.summary(), "lines": report.lines}


@finance.get("/reconciliation/{rail}/{day}", summary="A day's reconciliation report")
def reconciliation_report(
    rail: RailPath, day: date, request: Request, _staff: ReconcileStaff
) -> dict[str, Any]:
    container = container_of(request)
    report = container.db.run(lambda s: reconcile.run_report(s, rail=_rail(rail), day=day))
    if report is None:
        raise NotFound(f"no reconciliation of {rail} for {day}")
    return report


def _case_out(case: Any) -> schemas.CaseOut:
    return schemas.CaseOut(
        id=case.id, rail=case.rail, statement_date=case.statement_date.isoformat(),
        category=case.category, line_key=case.line_key, withdrawal_id=case.withdrawal_id,
        evidence=json.loads(case.evidence), status=case.status, created_at=case.created_at,
        resolved_at=case.resolved_at, resolved_by_staff_id=case.resolved_by_staff_id,
        resolution_note=case.resolution_note,
    )  # fmt: skip


@finance.get("/reconciliation-cases", summary="Reconciliation cases (default: open)")
def cases(
    request: Request,
    _staff: ReconcileStaff,
    status: CaseStatus | None = CaseStatus.OPEN,
    rail: Annotated[Text | None, Query(max_length=16)] = None,
) -> list[schemas.CaseOut]:
    container = container_of(request)
    rail_name = _rail(rail) if rail else None
    return container.db.run(
        lambda s: [_case_out(c) for c in reconcile.list_cases(s, status=status, rail=rail_name)]
    )


@finance.post("/reconciliation-cases/{case_id}/resolve", summary="Close a case with a note")
def resolve(
    case_id: Id, body: schemas.ResolveIn, request: Request, staff_id: ReconcileStaff
) -> schemas.CaseOut:
    container = container_of(request)
    return container.db.run(
        lambda s: _case_out(
            reconcile.resolve_case(
                s, case_id=case_id, staff_id=staff_id, note=body.note, now=container.clock.now()
            )
        )
    )


ROUTERS = (router, finance, callbacks)
