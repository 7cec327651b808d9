"""The seller's consumption-credit routes: the balance, its history, and top-ups (充话费)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from huafei.core.money import Money
from huafei.core.types import Id, Text
from huafei.credit.deps import TopUpsDep
from huafei.credit.schemas import (
    CreditBalanceOut,
    CreditHistoryOut,
    CreditLineOut,
    TopUpIn,
    TopUpOut,
    TopUpQuoteIn,
    TopUpQuoteOut,
)
from huafei.credit.service import balance, pricing, topups
from huafei.identity.deps import SellerCtx
from huafei.payouts.schemas import QuoteRefusal
from huafei.web.idempotency import Idempotent, idempotent_response, json_fingerprint

router = APIRouter(prefix="/api/v1/credit", tags=["credit"])


@router.get("", summary="Consumption credit (消费金): spendable, held, total; never withdrawable")
def credit_balance(ctx: SellerCtx, sender: TopUpsDep) -> CreditBalanceOut:
    b = ctx.run(lambda s: balance.credit_balance(s, ctx.owner_ref))
    return CreditBalanceOut(
        owner_ref=b.owner_ref, available_fen=b.available_fen, held_fen=b.held_fen,
        total_fen=b.total_fen, available=Money(b.available_fen).plain(),
        held=Money(b.held_fen).plain(), total=Money(b.total_fen).plain(),
        discount_rate=str(sender.terms.discount_rate),
        discount_percent=sender.terms.discount_percent,
    )  # fmt: skip


@router.get("/history", summary="Every movement of the spendable credit, oldest first")
def credit_history(
    ctx: SellerCtx,
    cursor: Annotated[
        Text | None, Query(max_length=128, description="`next_cursor` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    locale: Literal["zh", "en"] = "zh",
) -> CreditHistoryOut:
    page = ctx.run(
        lambda s: balance.credit_history(
            s, ctx.owner_ref, cursor=cursor, limit=limit, locale=locale
        )
    )
    return CreditHistoryOut(
        rows=[CreditLineOut.of(line) for line in page.lines], next_cursor=page.next_cursor
    )


@router.post("/topups/quote", summary="The price of a top-up, with the discount, before paying")
def quote_topup(body: TopUpQuoteIn, ctx: SellerCtx, sender: TopUpsDep) -> TopUpQuoteOut:
    q = ctx.run(
        lambda s: pricing.quote_topup(
            s, owner_ref=ctx.owner_ref, phone=body.phone, face_value_fen=body.face_value_fen,
            terms=sender.terms,
        )
    )  # fmt: skip
    refused = q.refused
    return TopUpQuoteOut(
        carrier=q.carrier, phone_masked=q.phone_masked, face_value_fen=q.face_value_fen,
        price_fen=q.price_fen, discount_fen=q.discount_fen, discount_rate=str(q.discount_rate),
        available_fen=q.available_fen, face_value=Money(q.face_value_fen).plain(),
        price=Money(q.price_fen).plain(), discount=Money(q.discount_fen).plain(),
        refusal=None if refused is None else QuoteRefusal(
            code=refused.code, detail=refused.detail, extra=refused.extra
        ),
    )  # fmt: skip


@router.post(
    "/topups",
    status_code=201,
    summary="Top up a phone number with consumption credit (needs an Idempotency-Key header)",
    response_model=TopUpOut,
)
def request_topup(
    body: TopUpIn, ctx: SellerCtx, sender: TopUpsDep, idem: Idempotent
) -> JSONResponse:
    """The price is held on the credit, then the carrier is asked at once. The answer shows the
    top-up as it is now: ``succeeded``, ``refused`` (the price is credit again) or ``pending``
    (the carrier's answer did not come; the platform asks the carrier and never tops up twice).
    A retry with the same key shows the same top-up as it is then."""
    order = topups.TopUpOrder(
        owner_ref=ctx.owner_ref, phone=body.phone, face_value_fen=body.face_value_fen,
        idempotency_key=idem.key or "", expected_price_fen=body.price_fen,
    )  # fmt: skip
    scope = f"{ctx.owner_ref}:credit:topups"
    outcome = idem.outcome(
        principal=scope,
        path=scope,
        body=json_fingerprint(body.model_dump(mode="json")),
        work=sender.request_work(order),
    )
    topup_id = sender.after_request(outcome)
    if topup_id is None:
        return idempotent_response(outcome)
    current = ctx.run(lambda s: TopUpOut.of(topups.get_topup(s, topup_id, ctx.owner_ref)))
    response = JSONResponse(current.model_dump(mode="json"), status_code=201)
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@router.get("/topups", summary="The caller's top-ups, newest first")
def list_topups(ctx: SellerCtx, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[TopUpOut]:
    return ctx.run(
        lambda s: [TopUpOut.of(t) for t in topups.list_topups(s, ctx.owner_ref, limit=limit)]
    )


@router.get("/topups/{topup_id}", summary="One of the caller's top-ups")
def get_topup(topup_id: Id, ctx: SellerCtx) -> TopUpOut:
    return ctx.run(lambda s: TopUpOut.of(topups.get_topup(s, topup_id, ctx.owner_ref)))
