"""The operations console (first version): staff sign-in with password and TOTP, order and
seller search, an order's timeline, and finance's withdrawal approval queue.

Pages ask for the same permissions as the staff API (``orders:read``, ``sellers:read``,
``payouts:run``) through ``authenticate_staff``, so every console request is in the operation
log. Four eyes is the payout service's rule: the console only shows its refusal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from huafei.core.errors import HuafeiError
from huafei.core.types import Id
from huafei.identity import limits
from huafei.identity.cookies import STAFF_COOKIES
from huafei.identity.deps import CallContext
from huafei.identity.errors import SellerNotFound
from huafei.identity.models import Seller
from huafei.identity.permissions import Permission
from huafei.identity.schemas import SellerView
from huafei.identity.service import staff as staff_service
from huafei.identity.service.sessions import SessionKind
from huafei.identity.validation import parse_mobile
from huafei.orders import service as orders
from huafei.orders.models import Order, OrderState
from huafei.payouts.deps import PayoutsDep
from huafei.payouts.models import Withdrawal, WithdrawalStatus
from huafei.payouts.service import methods, withdrawals
from huafei.portal.auth import require_form_token, sign_out_session, signed_in
from huafei.portal.pages import (
    Form,
    PageCtx,
    PageRoute,
    StaffPage,
    flash,
    order_with_timeline,
    redirect,
    render,
    safe_next,
    staff_page,
)

router = APIRouter(
    prefix="/console", route_class=PageRoute, include_in_schema=False, tags=["console"]
)

AnyStaff = Annotated[StaffPage, Depends(staff_page())]
OrderReader = Annotated[StaffPage, Depends(staff_page(Permission.ORDERS_READ))]
SellerReader = Annotated[StaffPage, Depends(staff_page(Permission.SELLERS_READ))]
Finance = Annotated[StaffPage, Depends(staff_page(Permission.PAYOUTS_RUN))]

SEARCH_LIMIT = 50


def _awaiting_approval(session: Session, *, limit: int) -> list[Withdrawal]:
    """Finance's queue: the withdrawals above the threshold, newest first."""
    return withdrawals.list_withdrawals(
        session, status=WithdrawalStatus.AWAITING_APPROVAL, limit=limit
    )


# -- sign-in ------------------------------------------------------------------------------------
def _sign_in_page(
    request: Request,
    *,
    username: str = "",
    next_url: str = "",
    refused: HuafeiError | None = None,
) -> Response:
    return render(
        request,
        "console/sign_in.html",
        refused=refused,
        username=username,
        next_url=safe_next(next_url, "/console"),
        flash=flash(request),
    )


@router.get("/sign-in")
def sign_in_page(request: Request) -> Response:
    return _sign_in_page(request, next_url=request.query_params.get("next", ""))


@router.post("/sign-in")
def sign_in(ctx: PageCtx, form: Form) -> Response:
    username, next_url = form.get("username", "")[:64], form.get("next", "")
    try:
        require_form_token(ctx.request, form)
        outcome = ctx.settle(
            lambda s: staff_service.sign_in_staff(
                s,
                username=username,
                password=form.get("password", "")[:256],
                totp_code=form.get("totp_code", "")[:12],
                kind=SessionKind.COOKIE,
                **ctx.attempt,
            )
        )
    except HuafeiError as exc:
        return _sign_in_page(ctx.request, username=username, next_url=next_url, refused=exc)
    return signed_in(ctx, STAFF_COOKIES, outcome.opened, safe_next(next_url, "/console"))


@router.post("/sign-out")
def sign_out(ctx: PageCtx, staff: AnyStaff) -> Response:
    return sign_out_session(
        ctx, STAFF_COOKIES, "/console/sign-in?done=signed_out", staff_id=staff.staff.id
    )


# -- home and search ----------------------------------------------------------------------------
@router.get("")
def console_home(request: Request, ctx: PageCtx, staff: AnyStaff) -> Response:
    waiting = None
    if staff.can(Permission.PAYOUTS_RUN):
        waiting = ctx.run(lambda s: len(_awaiting_approval(s, limit=500)))
    return render(
        request,
        "console/home.html",
        staff=staff,
        section="home",
        waiting=waiting,
        flash=flash(request),
    )


@router.get("/orders")
def console_orders(request: Request, ctx: PageCtx, staff: OrderReader) -> Response:
    query = request.query_params.get("q", "")[:40]
    state = request.query_params.get("state", "")
    states = [state] if state in {s.value for s in OrderState} else None
    rows = ctx.run(
        lambda s: orders.list_orders(
            s, owner_ref=None, states=states, search=query or None, limit=SEARCH_LIMIT
        )
    )
    return render(
        request,
        "console/orders.html",
        staff=staff,
        section="orders",
        orders=rows,
        query=query,
        state=state,
        states=[s.value for s in OrderState],
    )


@router.get("/orders/{order_id}")
def console_order(order_id: Id, request: Request, ctx: PageCtx, staff: OrderReader) -> Response:
    order, events = ctx.run(lambda s: order_with_timeline(s, order_id))
    return render(
        request,
        "console/order.html",
        staff=staff,
        section="orders",
        order=order,
        events=events,
    )


@router.get("/sellers")
def console_sellers(request: Request, ctx: PageCtx, staff: SellerReader) -> Response:
    """Find a seller by mobile number or seller id (exact: the console is not a browser of
    personal data)."""
    query = request.query_params.get("q", "").strip()[:32]

    def find(session: Session) -> list[SellerView]:
        if not query:
            return []
        found: Seller | None = None
        if query.isdigit() and len(query) < 11:
            found = session.get(Seller, int(query))
        else:
            try:
                number = parse_mobile(query)
            except HuafeiError:
                return []
            found = session.query(Seller).filter(Seller.phone == number.phone).one_or_none()
        return [SellerView.of(found, ctx.keyring)] if found else []

    results = ctx.run(find)
    return render(
        request,
        "console/sellers.html",
        staff=staff,
        section="sellers",
        query=query,
        results=results,
    )


@dataclass(frozen=True)
class SellerFile:
    seller: SellerView
    limits: list[limits.FlowStatus]
    orders: list[Order]


@router.get("/sellers/{seller_id}")
def console_seller(seller_id: Id, request: Request, ctx: PageCtx, staff: SellerReader) -> Response:
    now = ctx.now

    def read(session: Session) -> SellerFile:
        seller = session.get(Seller, seller_id)
        if seller is None:
            raise SellerNotFound
        return SellerFile(
            seller=SellerView.of(seller, ctx.keyring),
            limits=limits.limit_status(session, seller_id=seller_id, now=now),
            orders=orders.list_orders(session, owner_ref=seller.ledger_owner_ref, limit=20),
        )

    file = ctx.run(read)
    return render(request, "console/seller.html", staff=staff, section="sellers", file=file)


# -- withdrawal approvals (finance) -------------------------------------------------------------
@router.get("/withdrawals")
def console_withdrawals(request: Request, ctx: PageCtx, staff: Finance) -> Response:
    rows = ctx.run(lambda s: _awaiting_approval(s, limit=200))
    return render(
        request,
        "console/withdrawals.html",
        staff=staff,
        section="withdrawals",
        withdrawals=rows,
        flash=flash(request),
    )


@dataclass(frozen=True)
class WithdrawalFile:
    withdrawal: Withdrawal
    #: None for a settlement's carrier-wallet payout not sent yet (its wallet is pinned then)
    method: methods.MethodView | None
    history: list[tuple[Any, dict[str, Any]]]


def _withdrawal_page(
    ctx: CallContext,
    staff: StaffPage,
    withdrawal_id: int,
    refused: HuafeiError | None = None,
) -> Response:
    """A withdrawal with its history (again, with the reason, when an action was ``refused``)."""

    def read(session: Session) -> WithdrawalFile:
        w = withdrawals.get_withdrawal(session, withdrawal_id)
        method = (
            None
            if w.method_id is None
            else methods.view(methods.get_method(session, w.owner_ref, w.method_id))
        )
        history = [
            (event, json.loads(event.detail or "{}"))
            for event in withdrawals.history(session, withdrawal_id)
        ]
        return WithdrawalFile(w, method, history)

    file = ctx.run(read)
    return render(
        ctx.request,
        "console/withdrawal.html",
        refused=refused,
        staff=staff,
        section="withdrawals",
        file=file,
        waiting=file.withdrawal.status == WithdrawalStatus.AWAITING_APPROVAL.value,
        flash=flash(ctx.request),
    )


@router.get("/withdrawals/{withdrawal_id}")
def console_withdrawal(withdrawal_id: Id, ctx: PageCtx, staff: Finance) -> Response:
    return _withdrawal_page(ctx, staff, withdrawal_id)


def _finance_action(
    ctx: CallContext,
    staff: StaffPage,
    withdrawal_id: int,
    action: Callable[[Session], object],
    done: str,
) -> Response:
    try:
        ctx.run(action)
    except HuafeiError as exc:
        return _withdrawal_page(ctx, staff, withdrawal_id, refused=exc)
    return redirect(f"/console/withdrawals/{withdrawal_id}?done={done}")


@router.post("/withdrawals/{withdrawal_id}/approve")
def approve(withdrawal_id: Id, ctx: PageCtx, staff: Finance, form: Form) -> Response:
    now = ctx.now
    return _finance_action(
        ctx,
        staff,
        withdrawal_id,
        lambda s: withdrawals.approve_withdrawal(
            s,
            withdrawal_id=withdrawal_id,
            staff_id=staff.staff.id,
            now=now,
            note=form.get("note", "")[:500],
        ),
        "approved",
    )


@router.post("/withdrawals/{withdrawal_id}/reject")
def reject(
    withdrawal_id: Id, ctx: PageCtx, staff: Finance, form: Form, payouts: PayoutsDep
) -> Response:
    reason = form.get("reason", "")[:200]
    if not reason:
        return _withdrawal_page(ctx, staff, withdrawal_id, refused=_ReasonMissing())
    now = ctx.now
    return _finance_action(
        ctx,
        staff,
        withdrawal_id,
        lambda s: withdrawals.reject_withdrawal(
            s,
            payouts=payouts,
            withdrawal_id=withdrawal_id,
            staff_id=staff.staff.id,
            reason=reason,
            now=now,
        ),
        "rejected",
    )


@router.post("/withdrawals/{withdrawal_id}/notes")
def annotate(withdrawal_id: Id, ctx: PageCtx, staff: Finance, form: Form) -> Response:
    note = form.get("note", "")[:500]
    if not note:
        return redirect(f"/console/withdrawals/{withdrawal_id}")
    now = ctx.now
    return _finance_action(
        ctx,
        staff,
        withdrawal_id,
        lambda s: withdrawals.annotate_withdrawal(
            s, withdrawal_id=withdrawal_id, staff_id=staff.staff.id, note=note, now=now
        ),
        "noted",
    )


class _ReasonMissing(HuafeiError):
    code = "rejection_reason_missing"
    status = 422
    title = "Give the seller a reason"
