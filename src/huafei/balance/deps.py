"""What the balance routes and the portal's balance pages share: each step that calls the
carrier runs as a unit of work, the call with no transaction open, and a second unit of work
that records the answer (a refusal that counts towards the pauses commits before it is
raised)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from huafei.balance.models import BalanceAuthorisation, BalanceSale
from huafei.balance.service import authorisation as steps
from huafei.balance.service.quoting import BalanceQuote, BalanceView, balance_view, quote
from huafei.balance.service.selling import SaleRequest, sell
from huafei.carriers.gateway import Carrier, CarrierGateway, ChannelRefused, CodeRequest
from huafei.identity.deps import SellerContext

Channels = Mapping[Carrier, CarrierGateway]
T = TypeVar("T")


def _keyed(ctx: SellerContext, step: Callable[..., T], **arguments: Any) -> Callable[[Session], T]:
    """``step`` as a unit of work, with the keyring and the time (read at each attempt)."""
    return lambda s: step(s, keyring=ctx.keyring, now=ctx.clock.now(), **arguments)


def _answer(ask: Callable[[], T]) -> T | ChannelRefused:
    """The carrier's answer, its refusal included (a refusal is recorded, not raised, here)."""
    try:
        return ask()
    except ChannelRefused as refusal:
        return refusal


def start_authorisation(
    ctx: SellerContext,
    channels: Channels,
    *,
    phone: str,
    service_password: str,
    carrier: Carrier | None,
) -> BalanceAuthorisation:
    """Step 1: the carrier checks the number's service password and texts it a code."""
    claim = ctx.run(
        _keyed(ctx, steps.prepare_code, seller_id=ctx.seller.id, phone=phone, carrier=carrier)
    )
    request = CodeRequest(claim.request_id, claim.phone, service_password)
    answer = _answer(lambda: channels[claim.carrier].send_verification_code(request))
    return ctx.settle(
        _keyed(
            ctx, steps.complete_code, claim=claim, service_password=service_password, answer=answer
        )
    )


def confirm_code(
    ctx: SellerContext, channels: Channels, *, authorisation_id: int, code: str
) -> BalanceAuthorisation:
    """Step 1, second half: the carrier confirms the code it texted."""
    call = ctx.run(
        _keyed(
            ctx, steps.prepare_verify, authorisation_id=authorisation_id, owner_ref=ctx.owner_ref
        )
    )
    if isinstance(call, BalanceAuthorisation):
        return call  # verified already
    answer = _answer(
        lambda: channels[call.carrier].verify_code(call.code_request_id, call.phone, code)
    )
    return ctx.settle(
        _keyed(ctx, steps.complete_verify, authorisation_id=authorisation_id, answer=answer)
    )


def query_balance(
    ctx: SellerContext, channels: Channels, *, authorisation_id: int, profile_code: str
) -> BalanceView:
    """Step 2: the balance asked of the carrier now, with what the number may sell."""
    call = ctx.run(
        _keyed(ctx, steps.prepare_query, authorisation_id=authorisation_id, owner_ref=ctx.owner_ref)
    )
    try:
        balance_fen = channels[call.carrier].query_balance(call.phone, call.service_password)
    except ChannelRefused as refusal:
        raise steps.carrier_error(refusal) from None

    def record(session: Session) -> BalanceView:
        now = ctx.clock.now()
        recorded = steps.record_balance(
            session, authorisation_id=authorisation_id, balance_fen=balance_fen, now=now
        )
        return balance_view(session, authorisation=recorded, profile_code=profile_code, now=now)

    return ctx.run(record)


def lock_quote(
    ctx: SellerContext, *, authorisation_id: int, profile_code: str, amount_fen: int
) -> BalanceQuote:
    """Step 3: the amount checked and its price locked for the quote's lifetime."""
    return ctx.run(
        lambda s: quote(
            s,
            authorisation_id=authorisation_id,
            owner_ref=ctx.owner_ref,
            profile_code=profile_code,
            amount_fen=amount_fen,
            now=ctx.clock.now(),
            ttl=timedelta(seconds=ctx.settings.quote_ttl_seconds),
        )
    )


def make_sale(ctx: SellerContext, session: Session, request: SaleRequest) -> BalanceSale:
    """Step 4 in the caller's unit of work (the idempotent route's): the sale, its freeze and
    its transfer job."""
    return sell(session, request, now=ctx.clock.now())
