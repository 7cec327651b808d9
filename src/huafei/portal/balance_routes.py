"""Selling a number's balance (话费余额回收) in the pages, in the steps of the API
(docs/balance.md) and through the same functions (``balance.deps``):

1. ``/balance``: the number (the seller's own) and its service password; the carrier texts a code,
   then ``/balance/{id}`` asks for it;
2. ``/balance/{id}`` once the code is confirmed: the balance, the limits and the amount;
3. the quote with the agreement (``POST /balance/{id}/quote``);
4. the sale (``POST /balance/{id}/sell``, idempotent on the form's key) and its timeline
   (``/balance/sales/{id}``), which refreshes itself until the sale is final.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.balance import deps as balance
from huafei.balance.models import AuthorisationState, BalanceSale, SaleState
from huafei.balance.service import reading
from huafei.balance.service.authorisation import owned
from huafei.balance.service.selling import SaleRequest
from huafei.carriers.deps import Channels
from huafei.carriers.gateway import Carrier
from huafei.core.errors import HuafeiError
from huafei.core.money import InvalidAmount, Money
from huafei.core.types import Id
from huafei.identity.deps import CallContext, SellerContext
from huafei.portal.messages import describe, describe_error
from huafei.portal.pages import Form, Me, PageCtx, PageRoute, SellerPage, redirect, render
from huafei.portal.ui import gettext_for
from huafei.rates import service as rates
from huafei.vouchers import service as vouchers
from huafei.vouchers.models import Voucher
from huafei.vouchers.schemas import Subject
from huafei.web.idempotency import Idempotency

router = APIRouter(route_class=PageRoute, include_in_schema=False, tags=["portal"])
DEFAULT_PROFILE = "third_party"


def _seller(ctx: CallContext, me: SellerPage) -> SellerContext:
    return SellerContext(ctx.request, ctx.platform, me.seller)


def _page(ctx: CallContext, me: SellerPage, template: str, **values: Any) -> Response:
    return render(ctx.request, template, me=me, section="sell", **values)


def _error(ctx: CallContext, error: HuafeiError) -> str:
    return describe_error(error, gettext_for(ctx.request))


# -- step 1: the number, its service password and the carrier's code ---------------------------
def _start_page(
    ctx: CallContext, me: SellerPage, *, error: str | None = None, status: int = 200
) -> Response:
    sales = ctx.run(lambda s: reading.list_sales(s, owner_ref=me.owner_ref, limit=20))
    return _page(
        ctx, me, "balance.html", status=status, error=error, sales=sales,
        carriers=[c.value for c in Carrier],
    )  # fmt: skip


@router.get("/balance")
def balance_start(ctx: PageCtx, me: Me) -> Response:
    return _start_page(ctx, me)


@router.post("/balance")
def balance_authorise(ctx: PageCtx, me: Me, form: Form, channels: Channels) -> Response:
    carrier = form.get("carrier", "")
    if not form.get("service_password"):
        missing = describe("fields_missing", gettext_for(ctx.request))
        return _start_page(ctx, me, error=missing, status=422)
    try:
        started = balance.start_authorisation(
            _seller(ctx, me),
            channels,
            phone=me.seller.phone,
            service_password=form.get("service_password", "")[:32],
            carrier=Carrier(carrier) if carrier in {c.value for c in Carrier} else None,
        )
    except HuafeiError as exc:
        return _start_page(ctx, me, error=_error(ctx, exc), status=exc.status)
    return redirect(f"/balance/{started.id}")


@router.post("/balance/{authorisation_id}/code")
def balance_code(
    authorisation_id: Id, ctx: PageCtx, me: Me, form: Form, channels: Channels
) -> Response:
    try:
        balance.confirm_code(
            _seller(ctx, me), channels, authorisation_id=authorisation_id,
            code=form.get("code", "")[:8],
        )  # fmt: skip
    except HuafeiError as exc:
        return _step_page(ctx, me, authorisation_id, channels, error=_error(ctx, exc))
    return redirect(f"/balance/{authorisation_id}")


# -- step 2: the balance, the limits and the amount -------------------------------------------
@router.get("/balance/{authorisation_id}")
def balance_step(
    authorisation_id: Id, ctx: PageCtx, me: Me, channels: Channels, profile: str = DEFAULT_PROFILE
) -> Response:
    return _step_page(ctx, me, authorisation_id, channels, profile=profile[:32])


def _step_page(
    ctx: CallContext,
    me: SellerPage,
    authorisation_id: int,
    channels: Channels,
    *,
    profile: str = DEFAULT_PROFILE,
    amount: str = "",
    error: str | None = None,
) -> Response:
    """The code form while the code is awaited, the amount form once it is confirmed, the sale
    once one was made."""
    authorisation = ctx.run(lambda s: owned(s, authorisation_id, owner_ref=me.owner_ref))
    status = 422 if error else 200
    if authorisation.state == AuthorisationState.CODE_SENT.value:
        return _page(
            ctx, me, "balance_code.html", status=status, authorisation=authorisation, error=error
        )
    if authorisation.state == AuthorisationState.USED.value:
        sale_id = ctx.run(lambda s: _sale_of(s, authorisation_id))
        return redirect(f"/balance/sales/{sale_id}" if sale_id else "/balance")
    view = balance.query_balance(
        _seller(ctx, me), channels, authorisation_id=authorisation_id, profile_code=profile
    )
    profiles = ctx.run(rates.list_profiles)
    return _page(
        ctx, me, "balance_amount.html", status=status, view=view, profiles=profiles,
        amount=amount or (Money(view.max_amount_fen).plain() if view.max_amount_fen else ""),
        error=error,
    )  # fmt: skip


def _sale_of(session: Session, authorisation_id: int) -> int | None:
    return session.scalars(
        select(BalanceSale.id).where(BalanceSale.authorisation_id == authorisation_id)
    ).first()


# -- step 3: the quote and the agreement ------------------------------------------------------
@router.post("/balance/{authorisation_id}/quote")
def balance_quote(
    authorisation_id: Id, ctx: PageCtx, me: Me, form: Form, channels: Channels
) -> Response:
    profile = form.get("profile", DEFAULT_PROFILE)[:32]
    amount = form.get("amount", "")[:32]
    try:
        amount_fen = Money.parse(amount).fen
        if amount_fen <= 0:
            raise InvalidAmount("the amount must be positive")
        locked = balance.lock_quote(
            _seller(ctx, me),
            authorisation_id=authorisation_id,
            profile_code=profile,
            amount_fen=amount_fen,
        )
    except HuafeiError as exc:
        return _step_page(
            ctx, me, authorisation_id, channels, profile=profile, amount=amount,
            error=_error(ctx, exc),
        )  # fmt: skip
    return _page(
        ctx, me, "balance_quote.html", authorisation_id=authorisation_id, locked=locked,
        idempotency_key=secrets.token_urlsafe(18),
    )  # fmt: skip


# -- step 4: the sale and its timeline ----------------------------------------------------------
@router.post("/balance/{authorisation_id}/sell")
def balance_sell(authorisation_id: Id, ctx: PageCtx, me: Me, form: Form) -> Response:
    gettext = gettext_for(ctx.request)
    if not (form.get("agreement") == "yes" and form.get("lawful_source") == "yes"):
        error = gettext("Tick both boxes: the agreement and the lawful source of the balance.")
        return _page(ctx, me, "error.html", status=422, message=error, code="", console=False)
    request = SaleRequest(
        owner_ref=me.owner_ref,
        seller_id=me.seller.id,
        authorisation_id=authorisation_id,
        quote_id=form.get("quote_id", "")[:40],
        agreement_version=form.get("agreement_version", "")[:32],
        agreement_sha256=form.get("agreement_sha256", "")[:64],
        lawful_source_confirmed=True,
        ip=ctx.origin.ip or "",
        device_id=ctx.request.headers.get("x-device-id", "")[:128],
    )
    seller = _seller(ctx, me)

    def work(session: Session) -> tuple[int, Any]:
        return 201, {"sale_id": balance.make_sale(seller, session, request).id}

    fingerprint = f"{authorisation_id}|{request.quote_id}|{request.agreement_sha256}"
    outcome = Idempotency(ctx.platform, form.get("idempotency_key", "")).outcome(
        principal=me.owner_ref, path="/balance/sell", body=fingerprint.encode(), work=work
    )
    if outcome.status_code >= 400:
        problem = dict(outcome.body)
        message = describe(
            str(problem.get("code", "")), gettext, status=outcome.status_code, fields=problem
        )
        return _page(
            ctx, me, "error.html", status=outcome.status_code, message=message,
            code=str(problem.get("code", "")), console=False,
        )  # fmt: skip
    return redirect(f"/balance/sales/{int(dict(outcome.body)['sale_id'])}")


@router.get("/balance/sales/{sale_id}")
def balance_sale(sale_id: Id, ctx: PageCtx, me: Me) -> Response:
    def read(session: Session) -> tuple[reading.SaleDetail, Voucher | None]:
        detail = reading.sale_detail(session, sale_id, owner_ref=me.owner_ref)
        voucher = vouchers.voucher_of(
            session, Subject.BALANCE_SALE, sale_id, owner_ref=me.owner_ref
        )
        return detail, voucher

    detail, voucher = ctx.run(read)
    return _page(
        ctx, me, "balance_sale.html", detail=detail, sale=detail.sale,
        final=SaleState(detail.sale.state).final, voucher=voucher,
    )  # fmt: skip
