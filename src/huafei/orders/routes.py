"""The seller's order API: submit one card or a batch, validate lines, list, read, cancel."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from huafei.cards.parser import parse_batch
from huafei.cards.secrets import mask_serial
from huafei.container import Container
from huafei.core.idempotency import KEY_PATTERN, MAX_KEY_LENGTH, run_idempotent
from huafei.core.types import Id
from huafei.identity.deps import current_seller
from huafei.identity.models import Seller
from huafei.orders import service
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
from huafei.rates.routes import quote_out
from huafei.rates.service import QuoteView
from huafei.web.deps import get_container
from huafei.web.idempotency import idempotent_response

router = APIRouter(prefix="/api/v1", tags=["orders"])
SellerDep = Annotated[Seller, Depends(current_seller)]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", max_length=MAX_KEY_LENGTH, pattern=KEY_PATTERN)
]


def owner_of(seller: Seller) -> str:
    return f"seller:{seller.id}"


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
        out.timeline = [
            EventOut(
                from_state=e.from_state,
                to_state=e.to_state,
                actor=e.actor,
                reason=e.reason,
                at=e.at,
            )
            for e in service.timeline(session, order.id)
        ]
    return out


def _submit(
    request: Request,
    container: Container,
    seller: Seller,
    body: SubmitBase,
    key: str | None,
    *,
    cards_text: str | None,
    serial: str | None,
    pin: str | None,
) -> JSONResponse:
    settings = container.settings
    owner = owner_of(seller)
    ip = request.client.host if request.client else ""
    submission = service.Submission(
        owner_ref=owner,
        seller_id=seller.id,
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
        ip=ip,
        device_id=body.device_id or request.headers.get("x-device-id", ""),
    )
    keyring = container.keyring

    def handler(session: Session) -> tuple[int, object]:
        now = container.clock.now()
        result = service.submit(
            session,
            submission,
            keyring=keyring,
            now=now,
            quote_ttl=timedelta(seconds=settings.quote_ttl_seconds),
            guessing=service.GuessingPolicy.from_settings(settings),
        )
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
        out = BatchOut(
            batch_id=result.batch.id,
            quote=quote_out(view),
            orders=[order_out(None, order) for order in result.orders],
            rejected=[
                LineErrorOut(line=e.line, code=e.code, message=e.message) for e in result.rejected
            ],
        )
        return 201, out.model_dump(mode="json")

    # The PIN is part of what makes two requests "the same", but only through the fingerprint.
    outcome = run_idempotent(
        container.db,
        container.clock,
        principal=owner,
        key=key,
        method="POST",
        path=request.url.path,
        body=body.model_dump_json().encode(),
        handler=handler,
    )
    return idempotent_response(outcome)


@router.post(
    "/orders",
    status_code=201,
    summary="Submit one card",
    response_model=BatchOut,
    responses={429: {}},
)
def submit_card(
    request: Request, body: SubmitCard, seller: SellerDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    return _submit(
        request,
        get_container(request),
        seller,
        body,
        idempotency_key,
        cards_text=None,
        serial=body.serial,
        pin=body.pin,
    )


@router.post(
    "/orders/batch",
    status_code=201,
    summary="Submit a pasted batch",
    response_model=BatchOut,
    responses={429: {}},
)
def submit_batch(
    request: Request, body: SubmitBatch, seller: SellerDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    return _submit(
        request,
        get_container(request),
        seller,
        body,
        idempotency_key,
        cards_text=body.cards,
        serial=None,
        pin=None,
    )


@router.post(
    "/orders/validate",
    summary="Check pasted lines without submitting anything",
    dependencies=[Depends(current_seller)],
)
def validate(body: ValidateBatch) -> ValidationOut:
    parsed = parse_batch(body.cards, body.carrier)
    return ValidationOut(
        good_lines=[card.line for card in parsed.cards],
        errors=[LineErrorOut(line=e.line, code=e.code, message=e.message) for e in parsed.errors],
    )


@router.get("/orders", summary="Your orders, newest first")
def list_orders(
    request: Request,
    seller: SellerDep,
    state: Annotated[list[OrderState] | None, Query()] = None,
    batch_id: Id | None = None,
    before_id: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[OrderOut]:
    container = get_container(request)
    owner = owner_of(seller)
    return container.db.run(
        lambda s: [
            order_out(s, o)
            for o in service.list_orders(
                s,
                owner_ref=owner,
                states=[x.value for x in state] if state else None,
                batch_id=batch_id,
                before_id=before_id,
                limit=limit,
            )
        ]
    )


@router.get("/orders/{order_id}", summary="One order with its timeline")
def read_order(request: Request, order_id: Id, seller: SellerDep) -> OrderOut:
    container = get_container(request)
    owner = owner_of(seller)
    return container.db.run(
        lambda s: order_out(s, service.get_order(s, order_id, owner_ref=owner), with_timeline=True)
    )


@router.post("/orders/{order_id}/cancel", summary="Withdraw an order not yet sent to the carrier")
def cancel_order(request: Request, order_id: Id, seller: SellerDep) -> OrderOut:
    container = get_container(request)
    owner = owner_of(seller)
    now = container.clock.now()
    return container.db.run(
        lambda s: order_out(
            s, service.cancel(s, order_id, owner_ref=owner, now=now), with_timeline=True
        )
    )


@router.get("/batches/{batch_id}", summary="Progress of a submitted batch")
def batch_progress(request: Request, batch_id: Id, seller: SellerDep) -> ProgressOut:
    container = get_container(request)
    owner = owner_of(seller)
    by_state = container.db.run(lambda s: service.batch_progress(s, batch_id, owner_ref=owner))
    final = sum(n for st, n in by_state.items() if OrderState(st).final)
    return ProgressOut(
        batch_id=batch_id, total=sum(by_state.values()), final=final, by_state=by_state
    )
