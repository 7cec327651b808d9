"""Selling cards and following them: the sell form with its live line check and quote, the
batch progress that updates itself until every card is final, the order list and an order's
timeline.

The live check (``POST /sell/check``, an htmx partial) parses the pasted lines exactly as a
submission will (``cards.parser.parse_batch``) and prices the good ones (``rates.preview``);
nothing is stored or locked until the seller submits. Pasted PINs are never sent back: the check
answers with line numbers, reasons and masked card numbers.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from huafei.cards.parser import ParsedBatch, parse_batch
from huafei.cards.secrets import mask_serial
from huafei.carriers.formats import face_values_fen, require_face_value
from huafei.carriers.gateway import Carrier
from huafei.core.errors import HuafeiError
from huafei.core.idempotency import IdempotentResponse
from huafei.core.types import Id
from huafei.identity.deps import CallContext
from huafei.orders import deps as order_deps
from huafei.orders import service as orders
from huafei.orders.models import FINAL_STATES, Order, OrderState
from huafei.portal.messages import describe, describe_error, describe_line, describe_problem
from huafei.portal.pages import (
    Form,
    Me,
    PageCtx,
    PageRoute,
    SellerPage,
    flash,
    order_with_timeline,
    redirect,
    render,
)
from huafei.portal.ui import gettext_for
from huafei.rates import errors as rate_errors
from huafei.rates import service as rates
from huafei.rates.defaults import DEFAULT_FACES
from huafei.rates.models import AgreementVersion, ChannelProfile, Lane
from huafei.web.idempotency import Idempotency

router = APIRouter(route_class=PageRoute, include_in_schema=False, tags=["portal"])

DEFAULT_PROFILE = "third_party"
DEFAULT_FACE_FEN = 10_000
ORDERS_PAGE = 20
BATCH_ORDERS_SHOWN = 200
FINAL = frozenset(state.value for state in FINAL_STATES)
CANCELLABLE = frozenset({"submitted", "review", "queued"})
ALL_FACES = sorted({face for faces in DEFAULT_FACES.values() for face in faces})


@dataclass(frozen=True)
class SellForm:
    """What the seller chose and typed (kept when the form comes back)."""

    profile: str = DEFAULT_PROFILE
    carrier: str = Carrier.CMCC.value
    face_value_fen: int = DEFAULT_FACE_FEN
    lane: str = Lane.NORMAL.value
    cards: str = ""
    agreement: bool = False
    lawful: bool = False

    @classmethod
    def of(cls, fields: dict[str, str]) -> SellForm:
        face = fields.get("face_value_fen", "")
        return cls(
            profile=fields.get("profile", DEFAULT_PROFILE)[:32],
            carrier=fields.get("carrier", Carrier.CMCC.value)[:8],
            face_value_fen=int(face) if face.isdigit() and len(face) < 9 else 0,
            lane=fields.get("lane", Lane.NORMAL.value)[:8],
            cards=fields.get("cards", "")[:200_000],
            agreement=fields.get("agreement") == "yes",
            lawful=fields.get("lawful_source") == "yes",
        )


def faces_of(carrier: str) -> tuple[int, ...]:
    """The face values the carrier sells (every face any carrier sells for an unknown code)."""
    try:
        return face_values_fen(Carrier(carrier))
    except ValueError:
        return tuple(ALL_FACES)


def nearest_face(faces: tuple[int, ...], wanted: int) -> int:
    """The face closest to what was chosen (the smaller on a tie)."""
    return min(faces, key=lambda face: (abs(face - wanted), face))


@dataclass(frozen=True)
class LineView:
    line: int
    ok: bool
    text: str
    """A masked card number for a good line, the reason for a bad one."""


@dataclass(frozen=True)
class CheckView:
    """The live check: each line's verdict and what the good cards would pay now."""

    lines: list[LineView]
    good: int
    bad: int
    quote: rates.QuoteView | None
    problem: str | None


def _check(session: Session, request: Request, chosen: SellForm, now: Any) -> CheckView:
    gettext = gettext_for(request)
    try:
        carrier = Carrier(chosen.carrier)
        require_face_value(carrier, chosen.face_value_fen)
        lane = Lane(chosen.lane)
    except ValueError:
        return CheckView([], 0, 0, None, describe("validation_failed", gettext))
    except HuafeiError as exc:
        return CheckView([], 0, 0, None, describe_error(exc, gettext))
    parsed: ParsedBatch = parse_batch(chosen.cards, carrier)
    lines = [LineView(card.line, ok=True, text=mask_serial(card.serial)) for card in parsed.cards]
    lines += [
        LineView(e.line, ok=False, text=describe_line(e.code, gettext)) for e in parsed.errors
    ]
    lines.sort(key=lambda view: view.line)
    quote = None
    problem = None
    try:
        quote = rates.preview(
            session,
            profile_code=chosen.profile,
            carrier=carrier.value,
            face_value_fen=chosen.face_value_fen,
            count=max(1, len(parsed.cards)),
            lane=lane,
            at=now,
        )
        rates.check_single_order_limit(
            rates.get_profile(session, chosen.profile), chosen.face_value_fen
        )
    except HuafeiError as exc:
        problem = describe_error(exc, gettext)
    return CheckView(lines, len(parsed.cards), len(parsed.errors), quote, problem)


@dataclass(frozen=True)
class SellChoices:
    profiles: list[ChannelProfile]
    agreement: AgreementVersion | None


def _choices(session: Session, now: Any) -> SellChoices:
    try:
        agreement: AgreementVersion | None = rates.current_agreement(session, now)
    except rate_errors.AgreementNotFound:
        agreement = None
    return SellChoices(rates.list_profiles(session), agreement)


def _sell_page(
    ctx: CallContext,
    me: SellerPage,
    chosen: SellForm,
    *,
    error: str | None = None,
    rejected: list[dict[str, Any]] | None = None,
    status: int = 200,
) -> Response:
    request = ctx.request
    now = ctx.now
    gettext = gettext_for(request)

    def read(session: Session) -> tuple[SellChoices, CheckView | None]:
        check = _check(session, request, chosen, now) if chosen.cards.strip() else None
        return _choices(session, now), check

    choices, check = ctx.run(read)
    return render(
        request,
        "sell.html",
        status=status,
        me=me,
        section="sell",
        chosen=chosen,
        choices=choices,
        check=check,
        faces=faces_of(chosen.carrier),
        face_swap=False,
        carriers=[c.value for c in Carrier],
        lanes=[lane.value for lane in Lane],
        rejected=[
            {"line": r.get("line"), "reason": describe_line(str(r.get("code")), gettext)}
            for r in rejected or []
        ],
        idempotency_key=secrets.token_urlsafe(18),
        error=error,
        flash=flash(request),
    )


@router.get("/sell")
def sell_page(ctx: PageCtx, me: Me) -> Response:
    return _sell_page(ctx, me, SellForm())


@router.post("/sell/check")
def sell_check(ctx: PageCtx, me: Me, form: Form) -> Response:
    """The htmx partial behind the form: line verdicts and the exact payout, as typed."""
    request = ctx.request
    chosen = SellForm.of(form)
    # The face list follows the carrier: when the carrier changed since the list was drawn, the
    # answer redraws it (out of band) and checks against a face value that carrier sells.
    face_swap = form.get("faces_for", chosen.carrier) != chosen.carrier
    faces = faces_of(chosen.carrier)
    if face_swap and chosen.face_value_fen not in faces:
        chosen = replace(chosen, face_value_fen=nearest_face(faces, chosen.face_value_fen))
    now = ctx.now
    check = ctx.run(lambda s: _check(s, request, chosen, now))
    return render(
        request,
        "partials/sell_check.html",
        me=me,
        check=check,
        chosen=chosen,
        face_swap=face_swap,
        faces=faces,
    )


def _submission(
    ctx: CallContext, me: SellerPage, chosen: SellForm, form: dict[str, str]
) -> orders.Submission | str:
    """The orders service's submission, or the error to show (the form's choices invalid)."""
    try:
        carrier = Carrier(chosen.carrier)
        lane = Lane(chosen.lane)
    except ValueError:
        return describe("validation_failed", gettext_for(ctx.request))
    return orders.Submission(
        owner_ref=me.owner_ref,
        seller_id=me.seller.id,
        profile_code=chosen.profile,
        carrier=carrier,
        face_value_fen=chosen.face_value_fen,
        lane=lane,
        agreement_version=form.get("agreement_version", "")[:32],
        agreement_sha256=form.get("agreement_sha256", "")[:64],
        lawful_source_confirmed=chosen.lawful,
        cards_text=chosen.cards,
        ip=ctx.origin.ip or "",
        device_id=ctx.request.headers.get("x-device-id", "")[:128],
    )


def _submit_once(
    ctx: CallContext, submission: orders.Submission, chosen: SellForm, key: str
) -> IdempotentResponse:
    """Submit as the API's batch submission does: the PIN never enters the idempotency record,
    only the choices; a resent form with the same key lands on the same batch."""

    def work(session: Session) -> tuple[int, Any]:
        result = order_deps.submit(ctx, session, submission)
        return 201, {
            "batch_id": result.batch.id,
            "rejected": [{"line": e.line, "code": e.code} for e in result.rejected],
        }

    fingerprint = (
        f"{chosen.profile}|{chosen.carrier}|{chosen.face_value_fen}|{chosen.lane}|"
        f"{submission.agreement_version}|{submission.agreement_sha256}|{len(chosen.cards)}"
    )
    idem = Idempotency(ctx.platform, key)
    return idem.outcome(
        principal=submission.owner_ref, path="/sell", body=fingerprint.encode(), work=work
    )


def _batch_redirect(body: dict[str, Any]) -> Response:
    target = f"/batches/{int(body['batch_id'])}"
    rejected = [f"{int(r['line'])}:{r['code']}" for r in body.get("rejected", [])]
    if rejected:
        # Lines left out of an accepted batch are named on the batch page (numbers and reason
        # codes only; the cards themselves never travel in a URL).
        target += "?rejected=" + ",".join(rejected[:50])
    return redirect(target)


@router.post("/sell")
def submit_cards(ctx: PageCtx, me: Me, form: Form) -> Response:
    gettext = gettext_for(ctx.request)
    chosen = SellForm.of(form)
    if not (chosen.agreement and chosen.lawful):
        error = gettext("Tick both boxes: the agreement and the lawful source of the cards.")
        return _sell_page(ctx, me, chosen, error=error, status=422)
    submission = _submission(ctx, me, chosen, form)
    if isinstance(submission, str):
        return _sell_page(ctx, me, chosen, error=submission, status=422)
    try:
        outcome = _submit_once(ctx, submission, chosen, form.get("idempotency_key", ""))
    except HuafeiError as exc:
        error = describe_error(exc, gettext)
        return _sell_page(ctx, me, chosen, error=error, status=exc.status)
    if outcome.status_code >= 400:
        error = describe_problem(outcome.body, outcome.status_code, gettext)
        rejected = list(outcome.body.get("rejected", []))
        return _sell_page(
            ctx, me, chosen, error=error, rejected=rejected, status=outcome.status_code
        )
    return _batch_redirect(dict(outcome.body))


# -- following a batch --------------------------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    batch_id: int
    total: int
    final: int
    orders: list[Order]

    @property
    def done(self) -> bool:
        return self.total > 0 and self.final == self.total

    @property
    def payout_fen(self) -> int:
        return sum(o.payout_fen or 0 for o in self.orders if o.state == OrderState.SETTLED.value)


def _progress(session: Session, batch_id: int, owner_ref: str) -> Progress:
    by_state = orders.batch_progress(session, batch_id, owner_ref=owner_ref)
    rows = orders.list_orders(
        session, owner_ref=owner_ref, batch_id=batch_id, limit=BATCH_ORDERS_SHOWN
    )
    return Progress(
        batch_id=batch_id,
        total=sum(by_state.values()),
        final=sum(n for state, n in by_state.items() if state in FINAL),
        orders=sorted(rows, key=lambda o: o.line),
    )


@router.get("/batches/{batch_id}")
def batch_page(batch_id: Id, request: Request, ctx: PageCtx, me: Me) -> Response:
    progress = ctx.run(lambda s: _progress(s, batch_id, me.owner_ref))
    gettext = gettext_for(request)
    rejected = []
    for item in request.query_params.get("rejected", "").split(",")[:50]:
        line, _, code = item.partition(":")
        if line.isdigit() and code:
            rejected.append({"line": int(line), "reason": describe_line(code[:40], gettext)})
    return render(
        request,
        "batch.html",
        me=me,
        section="sell",
        progress=progress,
        final_states=FINAL,
        rejected=rejected,
    )


@router.get("/batches/{batch_id}/progress")
def batch_progress_partial(batch_id: Id, request: Request, ctx: PageCtx, me: Me) -> Response:
    """Polled by the batch page every second until every card is final."""
    progress = ctx.run(lambda s: _progress(s, batch_id, me.owner_ref))
    return render(
        request,
        "partials/batch_progress.html",
        me=me,
        progress=progress,
        final_states=FINAL,
    )


# -- orders -------------------------------------------------------------------------------------
@router.get("/orders")
def orders_page(request: Request, ctx: PageCtx, me: Me) -> Response:
    params = request.query_params
    state = params.get("state", "")
    states = [state] if state in {s.value for s in OrderState} else None
    query = params.get("q", "")[:40]
    before = params.get("before_id", "")
    before_id = int(before) if before.isdigit() and len(before) < 19 else None
    batch = params.get("batch_id", "")
    batch_id = int(batch) if batch.isdigit() and len(batch) < 19 else None
    rows = ctx.run(
        lambda s: orders.list_orders(
            s,
            owner_ref=me.owner_ref,
            states=states,
            batch_id=batch_id,
            search=query or None,
            before_id=before_id,
            limit=ORDERS_PAGE + 1,
        )
    )
    older = rows[ORDERS_PAGE].id + 1 if len(rows) > ORDERS_PAGE else None
    return render(
        request,
        "orders.html",
        me=me,
        section="orders",
        orders=rows[:ORDERS_PAGE],
        states=[s.value for s in OrderState],
        state=state,
        query=query,
        batch_id=batch_id,
        older=older,
        flash=flash(request),
    )


@router.get("/orders/{order_id}")
def order_page(order_id: Id, request: Request, ctx: PageCtx, me: Me) -> Response:
    order, events = ctx.run(lambda s: order_with_timeline(s, order_id, owner_ref=me.owner_ref))
    return render(
        request,
        "order.html",
        me=me,
        section="orders",
        order=order,
        events=events,
        cancellable=order.state in CANCELLABLE,
        flash=flash(request),
    )


@router.post("/orders/{order_id}/cancel")
def cancel_order(order_id: Id, ctx: PageCtx, me: Me) -> Response:
    ctx.run(lambda s: orders.cancel(s, order_id, owner_ref=me.owner_ref, now=ctx.now))
    return redirect(f"/orders/{order_id}?done=order_cancelled")
