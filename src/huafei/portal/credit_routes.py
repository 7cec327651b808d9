"""The consumption-credit pages (消费金): the balance and its history, and 充话费 — top up any
mainland number with credit, at the discount shown before anything is paid.

A top-up takes two steps, as a withdrawal does: the price (face value, discount, what the
credit pays) is shown first, and only the confirmation moves money. The confirmation carries an
idempotency key made with the price, so a double click or a resent form tops up once; the same
key through the API means the same top-up.
"""

from __future__ import annotations

import collections
import secrets
from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from huafei.core.errors import HuafeiError
from huafei.core.idempotency import IdempotentResponse
from huafei.credit.deps import TopUpsDep
from huafei.credit.sending import TopUps
from huafei.credit.service import balance, pricing, topups
from huafei.identity.deps import CallContext
from huafei.portal.i18n import N_, negotiate, statement_locale
from huafei.portal.messages import describe_problem
from huafei.portal.pages import (
    Form,
    Me,
    PageCtx,
    PageRoute,
    SellerPage,
    chosen_number,
    redirect,
    render,
)
from huafei.portal.ui import gettext_for
from huafei.web.idempotency import Idempotency, json_fingerprint

router = APIRouter(route_class=PageRoute, include_in_schema=False, tags=["portal"])

HISTORY_LINES = 20
#: Every amount some carrier tops up (each carrier sells a subset; a number's carrier decides).
TOPUP_AMOUNTS_FEN = (1_000, 2_000, 3_000, 5_000, 10_000, 20_000, 30_000, 50_000)
#: What the page says after a top-up was asked for (``?done=…``).
DONE: dict[str, str] = {
    "topup_succeeded": N_("Topped up. The number has the credit now."),
    "topup_pending": N_(
        "The carrier has not answered yet. We are checking with it; you will get a notice, "
        "and the number is never topped up twice."
    ),
    "topup_refused": N_("The carrier refused this top-up; the consumption credit is yours again."),
}


def _credit_page(
    ctx: CallContext,
    me: SellerPage,
    sender: TopUps,
    *,
    refused: HuafeiError | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    request = ctx.request
    locale = statement_locale(negotiate(request))

    def read(session: Session) -> dict[str, Any]:
        lines = collections.deque(
            balance.all_credit_lines(session, me.owner_ref, locale=locale), maxlen=HISTORY_LINES
        )
        return {
            "credit": balance.credit_balance(session, me.owner_ref),
            "topups": topups.list_topups(session, me.owner_ref, limit=10),
            "history": list(reversed(lines)),
        }

    done = DONE.get(request.query_params.get("done", ""))
    return render(
        request,
        "credit.html",
        status=status,
        refused=refused,
        me=me,
        section="wallet",
        error=error,
        typed=form or {},
        flash=gettext_for(request)(done) if done else None,
        amounts=TOPUP_AMOUNTS_FEN,
        terms=sender.terms,
        example_price=sender.terms.price(10_000),
        **ctx.run(read),
    )


@router.get("/wallet/credit")
def credit_page(ctx: PageCtx, me: Me, sender: TopUpsDep) -> Response:
    return _credit_page(ctx, me, sender)


def _typed(form: dict[str, str]) -> dict[str, str]:
    return {"phone": form.get("phone", "")[:32], "face_value_fen": form.get("face_value_fen", "")}


@router.post("/wallet/credit/topup")
def quote_topup(ctx: PageCtx, me: Me, form: Form, sender: TopUpsDep) -> Response:
    """Step one: the price with the discount, shown before anything moves."""
    typed = _typed(form)
    try:
        face_value_fen = chosen_number(typed["face_value_fen"])
        quote = ctx.run(
            lambda s: pricing.quote_topup(
                s, owner_ref=me.owner_ref, phone=typed["phone"], face_value_fen=face_value_fen,
                terms=sender.terms,
            )
        )  # fmt: skip
        if quote.refused is not None:  # say so now, not after "confirm"
            raise quote.refused
    except HuafeiError as exc:
        return _credit_page(ctx, me, sender, refused=exc, form=typed)
    return render(
        ctx.request,
        "topup_confirm.html",
        me=me,
        section="wallet",
        quote=quote,
        phone=typed["phone"],
        discount_percent=sender.terms.discount_percent,
        idempotency_key=secrets.token_urlsafe(18),
    )


def _topup_once(
    ctx: CallContext, me: SellerPage, sender: TopUps, form: dict[str, str]
) -> IdempotentResponse:
    """Top up once per key, with the same request body as the API's, so a key means the same
    top-up either way."""
    typed = _typed(form)
    face_value_fen = chosen_number(typed["face_value_fen"])
    price_fen = chosen_number(form.get("price_fen", ""))
    key = form.get("idempotency_key", "")
    order = topups.TopUpOrder(
        owner_ref=me.owner_ref, phone=typed["phone"], face_value_fen=face_value_fen,
        idempotency_key=key, expected_price_fen=price_fen,
    )  # fmt: skip
    body = {"phone": typed["phone"], "face_value_fen": face_value_fen, "price_fen": price_fen}
    scope = f"{me.owner_ref}:credit:topups"
    return Idempotency(ctx.platform, key).outcome(
        principal=scope, path=scope, body=json_fingerprint(body), work=sender.request_work(order)
    )


@router.post("/wallet/credit/topup/confirm")
def confirm_topup(ctx: PageCtx, me: Me, form: Form, sender: TopUpsDep) -> Response:
    """Step two: pay exactly the price shown (a changed price is refused and shown again)."""
    try:
        outcome = _topup_once(ctx, me, sender, form)
    except HuafeiError as exc:
        return _credit_page(ctx, me, sender, refused=exc, form=_typed(form))
    topup_id = sender.after_request(outcome)
    if topup_id is None:
        error = describe_problem(outcome.body, outcome.status_code, gettext_for(ctx.request))
        return _credit_page(
            ctx, me, sender, error=error, form=_typed(form), status=outcome.status_code
        )
    status = ctx.run(lambda s: topups.get_topup(s, topup_id, me.owner_ref).status)
    return redirect(f"/wallet/credit?done=topup_{status}#topups")
