"""The seller's payout routes: payout methods and withdrawals."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from huafei.core.money import Money
from huafei.core.types import Id
from huafei.identity.deps import SellerCtx
from huafei.payouts import schemas
from huafei.payouts.deps import PayoutIdempotent, PayoutsDep
from huafei.payouts.service import methods, withdrawals
from huafei.sms.deps import Sms
from huafei.web.idempotency import json_fingerprint

router = APIRouter(prefix="/api/v1", tags=["payouts"])


# -- payout methods -----------------------------------------------------------------------------
@router.get("/payout-methods", summary="The caller's payout methods (masked)")
def list_payout_methods(ctx: SellerCtx) -> list[methods.MethodView]:
    return ctx.run(lambda s: [methods.view(m) for m in methods.list_methods(s, ctx.owner_ref)])


@router.post(
    "/payout-methods/sms-code",
    status_code=202,
    summary="Text a code that confirms adding a payout method",
    responses={429: {}},
)
def request_method_code(ctx: SellerCtx, sms: Sms) -> dict[str, int]:
    now = ctx.now
    issued = ctx.settle(
        lambda s: methods.issue_method_code(s, phone=ctx.seller.phone, **ctx.attempt)
    )
    sms.send(issued.phone, methods.method_code_text(issued, now))
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
    body: schemas.MethodIn, ctx: SellerCtx, payouts: PayoutsDep
) -> methods.MethodView:
    real_name = ctx.verified_real_name
    # The code is checked in the unit of work that stores the method: a wrong try is counted
    # (returned, committed, then raised); a refused account leaves the code live.
    added = ctx.settle(
        lambda s: methods.add_method(
            s, owner_ref=ctx.owner_ref, phone=ctx.seller.phone, kind=body.kind,
            account_no=body.account_no, holder_name=body.holder_name,
            verified_real_name=real_name, sms_code=body.sms_code,
            keyring=payouts.keyring, now=ctx.now,
        )
    )  # fmt: skip
    return methods.view(added)


@router.delete("/payout-methods/{method_id}", status_code=204, summary="Remove a payout method")
def remove_payout_method(method_id: Id, ctx: SellerCtx) -> Response:
    ctx.run(
        lambda s: methods.remove_method(
            s, owner_ref=ctx.owner_ref, method_id=method_id, now=ctx.now
        )
    )
    return Response(status_code=204)


# -- withdrawals --------------------------------------------------------------------------------
@router.post("/withdrawals/quote", summary="Fee, total and limits before confirming")
def quote(body: schemas.QuoteIn, ctx: SellerCtx, payouts: PayoutsDep) -> schemas.QuoteOut:
    amount = Money.parse(body.amount).fen
    q = ctx.run(
        lambda s: withdrawals.quote_withdrawal(
            s, payouts=payouts, owner_ref=ctx.owner_ref, method_id=body.method_id,
            amount_fen=amount, now=ctx.now,
        )
    )  # fmt: skip
    return schemas.QuoteOut.of(q)


@router.post(
    "/withdrawals",
    status_code=201,
    summary="Withdraw to a payout method (needs an Idempotency-Key header)",
    response_model=schemas.WithdrawalOut,
)
def request_withdrawal(
    body: schemas.WithdrawalIn, ctx: SellerCtx, payouts: PayoutsDep, idem: PayoutIdempotent
) -> JSONResponse:
    amount = Money.parse(body.amount).fen

    def work(session: Session) -> tuple[int, Any]:
        withdrawal, _created = withdrawals.request_withdrawal(
            session, payouts=payouts, owner_ref=ctx.owner_ref, method_id=body.method_id,
            amount_fen=amount, idempotency_key=idem.key or "",
            now=ctx.clock.now(), expected_fee_fen=body.fee_fen,
        )  # fmt: skip
        return 201, schemas.WithdrawalOut.of(withdrawal).model_dump(mode="json")

    scope = f"{ctx.owner_ref}:withdrawals"
    return idem.respond(
        principal=scope, path=scope, body=json_fingerprint(body.model_dump(mode="json")), work=work
    )


@router.get("/withdrawals", summary="The caller's withdrawals, newest first")
def list_my_withdrawals(
    ctx: SellerCtx, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[schemas.WithdrawalOut]:
    return ctx.run(
        lambda s: [
            schemas.WithdrawalOut.of(w)
            for w in withdrawals.list_withdrawals(s, owner_ref=ctx.owner_ref, limit=limit)
        ]
    )


@router.get("/withdrawals/{withdrawal_id}", summary="One of the caller's withdrawals")
def get_my_withdrawal(withdrawal_id: Id, ctx: SellerCtx) -> schemas.WithdrawalOut:
    return ctx.run(
        lambda s: schemas.WithdrawalOut.of(
            withdrawals.get_withdrawal(s, withdrawal_id, ctx.owner_ref)
        )
    )


@router.post(
    "/withdrawals/{withdrawal_id}/cancel",
    summary="Take back a withdrawal that waits for approval or sending",
    response_model=schemas.WithdrawalOut,
)
def cancel_my_withdrawal(
    withdrawal_id: Id, ctx: SellerCtx, payouts: PayoutsDep, idem: PayoutIdempotent
) -> JSONResponse:
    def work(session: Session) -> tuple[int, Any]:
        w = withdrawals.cancel_withdrawal(
            session, payouts=payouts, owner_ref=ctx.owner_ref,
            withdrawal_id=withdrawal_id, now=ctx.clock.now(),
        )  # fmt: skip
        return 200, schemas.WithdrawalOut.of(w).model_dump(mode="json")

    scope = f"{ctx.owner_ref}:withdrawals:cancel"
    return idem.respond(
        principal=scope, path=scope, body=json_fingerprint({"withdrawal_id": withdrawal_id}),
        work=work,
    )  # fmt: skip
