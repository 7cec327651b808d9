"""The seller's account pages: sign-in with a texted code, sign-out, verification (levels 2 and
3, with the limits of each level) and security (the live sessions).

Sign-in, verification and the session list call the identity services exactly as the API does
(``identity.routes``); a refused form comes back with what was typed, never a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from huafei.core.errors import HuafeiError
from huafei.core.types import Id
from huafei.identity import limits
from huafei.identity.cookies import SELLER_COOKIES
from huafei.identity.deps import CallContext, ServicePasswords, Verifier
from huafei.identity.service import kyc, sessions, sign_in
from huafei.identity.service.sessions import SessionKind
from huafei.identity.validation import mask_phone, parse_mobile
from huafei.portal.auth import (
    current_session_id,
    require_form_token,
    sign_out_session,
    signed_in,
    signed_out,
)
from huafei.portal.pages import (
    Form,
    MaybeMe,
    Me,
    PageCtx,
    PageRoute,
    SellerPage,
    flash,
    redirect,
    render,
    safe_next,
)
from huafei.portal.ui import gettext_for
from huafei.sms.deps import Sms

router = APIRouter(route_class=PageRoute, include_in_schema=False, tags=["portal"])

SIGNED_OUT = "/sign-in?done=signed_out"


# -- sign-in ------------------------------------------------------------------------------------
def _sign_in_page(
    request: Request,
    *,
    phone: str = "",
    next_url: str = "",
    code_sent: bool = False,
    refused: HuafeiError | None = None,
    notice: str | None = None,
) -> Response:
    return render(
        request,
        "sign_in.html",
        refused=refused,
        section="sign_in",
        phone=phone,
        next_url=safe_next(next_url, "/sell"),
        code_sent=code_sent,
        notice=notice,
        outbox_phone=_digits(phone),
    )


def _digits(phone: str) -> str:
    try:
        return parse_mobile(phone).phone
    except HuafeiError:
        return ""


@router.get("/sign-in")
def sign_in_page(request: Request, me: MaybeMe) -> Response:
    next_url = request.query_params.get("next", "")
    if me is not None:
        return redirect(safe_next(next_url, "/sell"))
    return _sign_in_page(request, next_url=next_url, notice=flash(request))


@router.post("/sign-in/code")
def send_sign_in_code(ctx: PageCtx, form: Form, sms: Sms) -> Response:
    phone, next_url = form.get("phone", ""), form.get("next", "")
    try:
        require_form_token(ctx.request, form)
        number = parse_mobile(phone)
        issued = ctx.settle(lambda s: sign_in.issue_sign_in_code(s, number=number, **ctx.attempt))
    except HuafeiError as exc:
        resend_later = exc.code == "sms_resend_too_soon"
        return _sign_in_page(
            ctx.request, phone=phone, next_url=next_url, code_sent=resend_later, refused=exc
        )
    sms.send(issued.phone, issued.text)
    gettext = gettext_for(ctx.request)
    notice = gettext("We texted a 6-digit code to %(phone)s. It works for 5 minutes.") % {
        "phone": mask_phone(number.phone)
    }
    return _sign_in_page(
        ctx.request, phone=number.phone, next_url=next_url, code_sent=True, notice=notice
    )


@router.post("/sign-in")
def sign_in_with_code(ctx: PageCtx, form: Form) -> Response:
    phone, next_url = form.get("phone", ""), form.get("next", "")
    try:
        require_form_token(ctx.request, form)
        number = parse_mobile(phone)
        outcome = ctx.settle(
            lambda s: sign_in.sign_in_with_code(
                s,
                number=number,
                code=form.get("code", "")[:12],
                kind=SessionKind.COOKIE,
                **ctx.attempt,
            )
        )
    except HuafeiError as exc:
        return _sign_in_page(
            ctx.request, phone=phone, next_url=next_url, code_sent=True, refused=exc
        )
    target = safe_next(next_url, "/sell")
    target += ("&" if "?" in target else "?") + "done=signed_in"
    return signed_in(ctx, SELLER_COOKIES, outcome.opened, target)


@router.post("/sign-out")
def sign_out(ctx: PageCtx, me: Me) -> Response:
    return sign_out_session(ctx, SELLER_COOKIES, SIGNED_OUT, seller_id=me.seller.id)


# -- verification -------------------------------------------------------------------------------
@dataclass
class LimitLine:
    """One money flow's limits: now (size, used, left per window) and at the next level."""

    flow: str
    windows: dict[str, limits.WindowStatus]
    next_sizes: dict[str, int | None] | None


def _limit_lines(session: Session, seller_id: int, tier: int, now: datetime) -> list[LimitLine]:
    statuses = {s.flow.value: s for s in limits.limit_status(session, seller_id=seller_id, now=now)}
    lines = []
    for flow in limits.Flow:
        status = statuses.get(flow.value)
        windows = {w.window.value: w for w in status.windows} if status else {}
        next_sizes = None
        if tier < 3:
            row = limits.limit_row(session, tier + 1, flow)
            next_sizes = {w.value: row.size(w) for w in limits.Window}
        lines.append(LimitLine(flow.value, windows, next_sizes))
    return lines


def _verify_page(
    ctx: CallContext,
    me: SellerPage,
    refused: HuafeiError | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    """The verification page (again, with the reason, when a form was ``refused``)."""
    tier = me.seller.tier
    now = ctx.now
    lines = ctx.run(lambda s: _limit_lines(s, me.seller.id, tier, now))
    return render(
        ctx.request,
        "verify.html",
        refused=refused,
        me=me,
        section="verify",
        tier=tier,
        lines=lines,
        windows=("per_order", "daily", "annual", "lifetime"),
        typed={"real_name": (form or {}).get("real_name", "")},
        flash=flash(ctx.request),
    )


@router.get("/verify")
def verify_page(ctx: PageCtx, me: Me) -> Response:
    return _verify_page(ctx, me)


@router.post("/verify/real-name")
def verify_real_name(ctx: PageCtx, me: Me, form: Form, verifier: Verifier) -> Response:
    try:
        claim = ctx.run(
            lambda s: kyc.prepare_real_name(
                s,
                seller_id=me.seller.id,
                real_name=form.get("real_name", "")[:64],
                id_number=form.get("id_number", "")[:32],
                keyring=ctx.keyring,
                now=ctx.now,
            )
        )
        result = verifier.verify(
            claim.real_name, claim.id_number, form.get("selfie_token", "")[:256]
        )
        ctx.settle(
            lambda s: kyc.complete_real_name(
                s, claim=claim, result=result, keyring=ctx.keyring, origin=ctx.origin, now=ctx.now
            )
        )
    except HuafeiError as exc:
        return _verify_page(ctx, me, exc, form)
    return redirect("/verify?done=l2")


@router.post("/verify/service-password")
def verify_service_password(
    ctx: PageCtx, me: Me, form: Form, checker: ServicePasswords
) -> Response:
    password = form.get("service_password", "")[:32]
    try:
        phone = ctx.run(
            lambda s: kyc.prepare_service_password(
                s, seller_id=me.seller.id, keyring=ctx.keyring, now=ctx.now
            )
        )
        matched = checker.check(phone, password)
        ctx.settle(
            lambda s: kyc.complete_service_password(
                s,
                seller_id=me.seller.id,
                service_password=password,
                matched=matched,
                keyring=ctx.keyring,
                origin=ctx.origin,
                now=ctx.now,
            )
        )
    except HuafeiError as exc:
        return _verify_page(ctx, me, exc, form)
    return redirect("/verify?done=l3")


# -- security -----------------------------------------------------------------------------------
@router.get("/security")
def security_page(ctx: PageCtx, me: Me) -> Response:
    current_id = current_session_id(ctx)
    rows = ctx.run(lambda s: sessions.list_sessions(s, now=ctx.now, seller_id=me.seller.id))
    return render(
        ctx.request,
        "security.html",
        me=me,
        section="security",
        sessions=rows,
        current_id=current_id,
        flash=flash(ctx.request),
    )


@router.post("/security/sessions/{session_id}/end")
def end_session(session_id: Id, ctx: PageCtx, me: Me) -> Response:
    current_id = current_session_id(ctx)
    ctx.run(
        lambda s: sessions.end_session(
            s, ctx.actor, session_id=session_id, now=ctx.now, seller_id=me.seller.id
        )
    )
    if session_id == current_id:
        return signed_out(SELLER_COOKIES, SIGNED_OUT)
    return redirect("/security?done=session_ended")


@router.post("/security/sign-out-everywhere")
def sign_out_everywhere(ctx: PageCtx, me: Me) -> Response:
    ctx.run(
        lambda s: sessions.sign_out_everywhere(s, ctx.actor, now=ctx.now, seller_id=me.seller.id)
    )
    return signed_out(SELLER_COOKIES, SIGNED_OUT)
