"""The seller's order API: submit one card or a batch, validate lines, list, read, cancel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from fastapi.types import DecoratedCallable
from sqlalchemy.orm import Session

from huafei.cards.parser import parse_batch
from huafei.cards.secrets import mask_serial
from huafei.core.types import Id
from huafei.identity.deps import SellerContext, SellerCtx, current_seller
from huafei.orders import deps, service
from huafei.orders.models import Order, OrderState
from huafei.orders.schemas import (
    BatchOut,
    EventOut,
    LineErrorOut,
    OrderOut,
    ProgressOut,
    SubmitBase,
    SubmitBatch,
    SubmitCard,
    ValidateBatch,
    ValidationOut,
)
from huafei.rates.schemas import QuoteOut
from huafei.rates.service import QuoteView
from huafei.web.idempotency import Idempotency, Idempotent

router = APIRouter(prefix="/api/v1", tags=["orders"])


def order_out(session: Session | None, order: Order, *, with_timeline: bool = False) -> OrderOut:
    out = OrderOut(
        id=order.id,
        batch_id=order.batch_id,
        line=order.line,
        profile=order.profile_code,
        carrier=order.carrier,
        face_value_fen=order.face_value_fen,
        lane=order.lane,
        serial_masked=mask_serial(order.serial),
        state=order.state,
        rate=f"{order.rate.normalize():f}",
        quoted_payout_fen=order.quoted_payout_fen,
        actual_face_value_fen=order.actual_face_value_fen,
        payout_fen=order.payout_fen,
        fee_fen=order.fee_fen,
        failure_reason=order.failure_reason,
        created_at=order.created_at,
        updated_at=order.updated_at,
        settle_at=order.settle_at,
        settled_at=order.settled_at,
    )
    if with_timeline and session is not None:
        out.timeline = [EventOut.model_validate(e) for e in service.timeline(session, order.id)]
    return out


def _submission(
    ctx: SellerContext,
    body: SubmitBase,
    *,
    cards_text: str | None,
    serial: str | None,
    pin: str | None,
) -> service.Submission:
    return service.Submission(
        owner_ref=ctx.owner_ref,
        seller_id=ctx.seller.id,
        profile_code=body.profile,
        carrier=body.carrier,
        face_value_fen=body.face_value_fen,
        lane=body.lane,
        agreement_version=body.agreement_version,
        agreement_sha256=body.agreement_sha256,
        lawful_source_confirmed=body.lawful_source_confirmed,
        cards_text=cards_text,
        serial=serial,
        pin=pin,
        ip=ctx.client_ip,
        device_id=body.device_id or ctx.request.headers.get("x-device-id", ""),
    )


def _batch_out(result: service.SubmissionResult) -> BatchOut:
    priced, count = result.priced, len(result.orders)
    view = QuoteView(
        priced,
        count,
        priced.face_value * count,
        priced.payout * count,
        priced.fee * count,
        quote_id=result.quote.id,
        expires_at=result.quote.expires_at,
    )
    return BatchOut(
        batch_id=result.batch.id,
        quote=QuoteOut.of(view),
        orders=[order_out(None, order) for order in result.orders],
        rejected=[LineErrorOut.model_validate(e) for e in result.rejected],
    )


def _submit(
    ctx: SellerContext, idem: Idempotency, body: SubmitBase, submission: service.Submission
) -> JSONResponse:
    def handler(session: Session) -> tuple[int, object]:
        result = deps.submit(ctx, session, submission)
        return 201, _batch_out(result).model_dump(mode="json")

    # The PIN is part of what makes two requests "the same", but only through the fingerprint.
    return idem.respond(
        principal=ctx.owner_ref,
        path=ctx.request.url.path,
        body=body.model_dump_json().encode(),
        work=handler,
    )


def _submit_route(path: str, summary: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """A submission route: 201 with the batch, 429 while the seller's submissions pause."""
    return router.post(
        path, status_code=201, summary=summary, response_model=BatchOut, responses={429: {}}
    )


@_submit_route("/orders", "Submit one card")
def submit_card(body: SubmitCard, ctx: SellerCtx, idem: Idempotent) -> JSONResponse:
    submission = _submission(ctx, body, cards_text=None, serial=body.serial, pin=body.pin)
    return _submit(ctx, idem, body, submission)


@_submit_route("/orders/batch", "Submit a pasted batch")
def submit_batch(body: SubmitBatch, ctx: SellerCtx, idem: Idempotent) -> JSONResponse:
    submission = _submission(ctx, body, cards_text=body.cards, serial=None, pin=None)
    return _submit(ctx, idem, body, submission)


@router.post(
    "/orders/validate",
    summary="Check pasted lines without submitting anything",
    dependencies=[Depends(current_seller)],
)
def validate(body: ValidateBatch) -> ValidationOut:
    parsed = parse_batch(body.cards, body.carrier)
    return ValidationOut(
        good_lines=[card.line for card in parsed.cards],
        errors=[LineErrorOut.model_validate(e) for e in parsed.errors],
    )


@router.get("/orders", summary="Your orders, newest first")
def list_orders(
    ctx: SellerCtx,
    state: Annotated[list[OrderState] | None, Query()] = None,
    batch_id: Id | None = None,
    before_id: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[OrderOut]:
    return ctx.run(
        lambda s: [
            order_out(s, o)
            for o in service.list_orders(
                s,
                owner_ref=ctx.owner_ref,
                states=[x.value for x in state] if state else None,
                batch_id=batch_id,
                before_id=before_id,
                limit=limit,
            )
        ]
    )


@router.get("/orders/{order_id}", summary="One order with its timeline")
def read_order(order_id: Id, ctx: SellerCtx) -> OrderOut:
    return ctx.run(
        lambda s: order_out(
            s, service.get_order(s, order_id, owner_ref=ctx.owner_ref), with_timeline=True
        )
    )


@router.post("/orders/{order_id}/cancel", summary="Withdraw an order not yet sent to the carrier")
def cancel_order(order_id: Id, ctx: SellerCtx) -> OrderOut:
    now = ctx.now
    return ctx.run(
        lambda s: order_out(
            s, service.cancel(s, order_id, owner_ref=ctx.owner_ref, now=now), with_timeline=True
        )
    )


@router.get("/batches/{batch_id}", summary="Progress of a submitted batch")
def batch_progress(batch_id: Id, ctx: SellerCtx) -> ProgressOut:
    by_state = ctx.run(lambda s: service.batch_progress(s, batch_id, owner_ref=ctx.owner_ref))
    final = sum(n for st, n in by_state.items() if OrderState(st).final)
    return ProgressOut(
        batch_id=batch_id, total=sum(by_state.values()), final=final, by_state=by_state
    )
