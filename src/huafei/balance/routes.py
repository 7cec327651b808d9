"""The seller's balance API (话费余额回收), in the order a sale goes (docs/balance.md):

1. ``POST /balance/authorisations`` — number and service password; the carrier texts a code;
   ``POST /balance/authorisations/{id}/code`` — the code confirmed with the carrier;
2. ``GET /balance/authorisations/{id}/balance`` — the balance, the limits, the largest amount;
3. ``POST /balance/quotes`` — an amount checked and its price locked;
4. ``POST /balance/sales`` (``Idempotency-Key``) — the agreement accepted, the payout frozen,
   the transfer queued; ``GET /balance/sales[/{id}]`` — the sale with its timeline and ledger.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from huafei.balance import deps
from huafei.balance.schemas import (
    AuthorisationOut,
    BalanceOut,
    BalanceQuoteOut,
    BalanceRateOut,
    ConfirmCode,
    QuoteRequest,
    SaleOut,
    SellRequest,
    StartAuthorisation,
)
from huafei.balance.service import reading
from huafei.balance.service.authorisation import owned
from huafei.balance.service.selling import SaleRequest
from huafei.carriers.deps import Channels
from huafei.core.types import Id, Text
from huafei.identity.deps import SellerCtx
from huafei.web.context import AnyContext
from huafei.web.idempotency import Idempotent

router = APIRouter(prefix="/api/v1/balance", tags=["balance"])
ProfileCode = Annotated[Text, Query(max_length=32, description="channel profile code")]


@router.get("/rates", summary="Balance rates in effect now, per profile and carrier, with terms")
def balance_rates(ctx: AnyContext) -> list[BalanceRateOut]:
    now = ctx.now
    return ctx.run(lambda s: [BalanceRateOut.of(r) for r in reading.live_rates(s, at=now)])


@router.post(
    "/authorisations",
    status_code=201,
    summary="Step 1: your number and its service password; the carrier texts you a code",
    responses={403: {}, 429: {}, 502: {}, 504: {}},
)
def start_authorisation(
    body: StartAuthorisation, ctx: SellerCtx, channels: Channels
) -> AuthorisationOut:
    started = deps.start_authorisation(
        ctx,
        channels,
        phone=body.phone,
        service_password=body.service_password,
        carrier=body.carrier,
    )
    return AuthorisationOut.of(started)


@router.post(
    "/authorisations/{authorisation_id}/code",
    summary="Step 1: the code the carrier texted, confirmed with the carrier",
    responses={429: {}, 502: {}, 504: {}},
)
def confirm_code(
    authorisation_id: Id, body: ConfirmCode, ctx: SellerCtx, channels: Channels
) -> AuthorisationOut:
    verified = deps.confirm_code(ctx, channels, authorisation_id=authorisation_id, code=body.code)
    return AuthorisationOut.of(verified)


@router.get("/authorisations/{authorisation_id}", summary="An authorisation's state")
def read_authorisation(authorisation_id: Id, ctx: SellerCtx) -> AuthorisationOut:
    return ctx.run(
        lambda s: AuthorisationOut.of(owned(s, authorisation_id, owner_ref=ctx.owner_ref))
    )


@router.get(
    "/authorisations/{authorisation_id}/balance",
    summary="Step 2: the balance (asked of the carrier now), the limits, the largest amount",
    responses={502: {}, 504: {}},
)
def read_balance(
    authorisation_id: Id,
    ctx: SellerCtx,
    channels: Channels,
    profile: ProfileCode = "third_party",
) -> BalanceOut:
    view = deps.query_balance(
        ctx, channels, authorisation_id=authorisation_id, profile_code=profile
    )
    return BalanceOut.of(view)


@router.post(
    "/quotes",
    status_code=201,
    summary="Step 3: an amount checked and its price locked (rate, payout, fee, settlement)",
)
def lock_quote(body: QuoteRequest, ctx: SellerCtx) -> BalanceQuoteOut:
    locked = deps.lock_quote(
        ctx,
        authorisation_id=body.authorisation_id,
        profile_code=body.profile,
        amount_fen=body.amount_fen,
    )
    return BalanceQuoteOut.of(body.authorisation_id, locked)


@router.post(
    "/sales",
    status_code=201,
    summary="Step 4: accept the agreement and sell: the payout is frozen, the transfer queued",
    response_model=SaleOut,
    responses={503: {}},
)
def sell(body: SellRequest, ctx: SellerCtx, idem: Idempotent) -> JSONResponse:
    request = SaleRequest(
        owner_ref=ctx.owner_ref,
        seller_id=ctx.seller.id,
        authorisation_id=body.authorisation_id,
        quote_id=body.quote_id,
        agreement_version=body.agreement_version,
        agreement_sha256=body.agreement_sha256,
        lawful_source_confirmed=body.lawful_source_confirmed,
        ip=ctx.client_ip,
        device_id=body.device_id or ctx.request.headers.get("x-device-id", ""),
    )

    def handler(session: Session) -> tuple[int, object]:
        sale = deps.make_sale(ctx, session, request)
        detail = reading.sale_detail(session, sale.id, owner_ref=ctx.owner_ref)
        return 201, SaleOut.detailed(detail).model_dump(mode="json")

    return idem.respond(
        principal=ctx.owner_ref,
        path=ctx.request.url.path,
        body=body.model_dump_json().encode(),
        work=handler,
    )


@router.get("/sales", summary="Your balance sales, newest first")
def list_sales(
    ctx: SellerCtx,
    before_id: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[SaleOut]:
    return ctx.run(
        lambda s: [
            SaleOut.of(sale)
            for sale in reading.list_sales(
                s, owner_ref=ctx.owner_ref, before_id=before_id, limit=limit
            )
        ]
    )


@router.get("/sales/{sale_id}", summary="One sale with its timeline and its ledger transfers")
def read_sale(sale_id: Id, ctx: SellerCtx) -> SaleOut:
    return ctx.run(
        lambda s: SaleOut.detailed(reading.sale_detail(s, sale_id, owner_ref=ctx.owner_ref))
    )
