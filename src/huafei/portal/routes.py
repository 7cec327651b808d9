"""The seller portal's public pages and account pages: home, sign-in, language, verification,
notices and security. Money pages are in ``money_routes``, selling in ``sell_routes``.

Every handler calls the domains' services inside ``container.db.run`` — the same calls the JSON
API makes — and renders a page; a refused form is shown again with what was typed (never a
secret: ID numbers, service passwords and codes are not echoed back) and the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from huafei.core.errors import HuafeiError
from huafei.core.types import Id
from huafei.identity import limits
from huafei.identity.deps import (
    SELLER_COOKIE,
    SELLER_CSRF_COOKIE,
    actor_for,
    get_container,
    origin_of,
    raise_refused,
    session_context,
)
from huafei.identity.routes import clear_session_cookies, set_session_cookies
from huafei.identity.service import kyc, oplog, sessions, sign_in
from huafei.identity.service.sessions import SessionKind
from huafei.identity.validation import mask_phone, parse_mobile
from huafei.notices.service import (
    NoticeKind,
    list_notices,
    mark_read,
    preferences,
    set_preferences,
)
from huafei.portal.i18n import LANG_COOKIE, LOCALES, N_, negotiate
from huafei.portal.messages import describe, describe_error
from huafei.portal.pages import (
    PageRoute,
    SellerPage,
    form_fields,
    form_token_ok,
    optional_seller,
    redirect,
    render,
    safe_next,
    seller_page,
)
from huafei.portal.ui import gettext_for
from huafei.rates import errors as rate_errors
from huafei.rates import service as rates
from huafei.rates.defaults import DEFAULT_FACES
from huafei.rates.models import AgreementVersion, ChannelProfile, RateCardVersion, RateEntry

router = APIRouter(route_class=PageRoute, include_in_schema=False, tags=["portal"])

Me = Annotated[SellerPage, Depends(seller_page)]
MaybeMe = Annotated[SellerPage | None, Depends(optional_seller)]
Form = Annotated[dict[str, str], Depends(form_fields)]

LANG_COOKIE_MAX_AGE = 365 * 24 * 3600

#: Messages shown once after a redirect (``?done=…``).
DONE: dict[str, str] = {
    "signed_in": N_("Welcome. You are signed in."),
    "signed_out": N_("You are signed out."),
    "l2": N_("Level 2 verified. Your new limits are shown below."),
    "l3": N_("Level 3 verified. Your new limits are shown below."),
    "session_ended": N_("That session has ended."),
    "notices_read": N_("All notices are marked read."),
    "sms_saved": N_("Your text message choices are saved."),
    "method_added": N_("Payout account added."),
    "method_removed": N_("Payout account removed."),
    "withdrawal_requested": N_("Withdrawal requested. We will tell you when it arrives."),
    "withdrawal_waits": N_(
        "Withdrawal requested. It is above the approval threshold and waits for finance."
    ),
    "withdrawal_cancelled": N_("Withdrawal cancelled; the money is available again."),
    "order_cancelled": N_("Order cancelled."),
    "approved": N_("Approved."),
    "noted": N_("Note added. Someone else must approve this withdrawal now."),
    "rejected": N_("Rejected; the seller's money is available again."),
}


def flash(request: Request) -> str | None:
    done = DONE.get(request.query_params.get("done", ""))
    return gettext_for(request)(done) if done else None


# -- home ---------------------------------------------------------------------------------------
@dataclass
class RateGrid:
    """One profile's live rates: a row per face value, a column per carrier."""

    profile: ChannelProfile
    carriers: list[str]
    faces: list[int]
    cells: dict[tuple[str, int], dict[str, rates.RateTableRow]] = field(default_factory=dict)


@dataclass
class ProfileHistory:
    profile: ChannelProfile
    versions: list[tuple[RateCardVersion, list[RateEntry]]]


@dataclass
class HomeData:
    grids: list[RateGrid]
    history: list[ProfileHistory]
    agreement: AgreementVersion | None


def _home_data(session: Session, now: Any) -> HomeData:
    # The third-party (real-time) profile is what the sell page offers first; show it first.
    profiles = sorted(rates.list_profiles(session), key=lambda p: (p.code != "third_party", p.code))
    table = rates.rate_table(session, at=now, faces=dict(DEFAULT_FACES))
    grids = []
    for profile in profiles:
        rows = [r for r in table if r.profile_code == profile.code]
        grid = RateGrid(
            profile=profile,
            carriers=[c for c in DEFAULT_FACES if any(r.carrier == c for r in rows)],
            faces=sorted({r.face_value_fen for r in rows}),
        )
        for row in rows:
            grid.cells.setdefault((row.carrier, row.face_value_fen), {})[row.lane] = row
        grids.append(grid)
    history = [ProfileHistory(p, rates.rate_history(session, p.code)) for p in profiles]
    try:
        agreement: AgreementVersion | None = rates.current_agreement(session, now)
    except rate_errors.AgreementNotFound:
        agreement = None
    return HomeData(grids, history, agreement)


@router.get("/")
def home(request: Request, me: MaybeMe) -> Response:
    container = get_container(request)
    now = container.clock.now()
    data = container.db.run(lambda s: _home_data(s, now))
    return render(request, "home.html", me=me, section="home", data=data, flash=flash(request))


# -- language -----------------------------------------------------------------------------------
@router.post("/language")
def choose_language(form: Form) -> Response:
    """Remember the chosen language (a preference, not a credential) and go back."""
    response = redirect(safe_next(form.get("next"), "/"))
    lang = form.get("lang", "")
    if lang in LOCALES:
        response.set_cookie(LANG_COOKIE, lang, max_age=LANG_COOKIE_MAX_AGE, samesite="lax")
    return response


# -- sign-in ------------------------------------------------------------------------------------
def _sign_in_page(
    request: Request,
    *,
    phone: str = "",
    next_url: str = "",
    code_sent: bool = False,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "sign_in.html",
        status=status,
        section="sign_in",
        phone=phone,
        next_url=safe_next(next_url, "/sell"),
        code_sent=code_sent,
        error=error,
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
def send_sign_in_code(request: Request, form: Form) -> Response:
    container = get_container(request)
    gettext = gettext_for(request)
    phone = form.get("phone", "")
    next_url = form.get("next", "")
    if not form_token_ok(request, form):
        error = describe("form_expired", gettext)
        return _sign_in_page(request, phone=phone, next_url=next_url, error=error, status=400)
    origin = origin_of(request)
    now = container.clock.now()
    try:
        number = parse_mobile(phone)
        issued = raise_refused(
            container.db.run(
                lambda s: sign_in.issue_sign_in_code(
                    s,
                    number=number,
                    keyring=container.keyring,
                    limiter=container.rate_limiter,
                    origin=origin,
                    now=now,
                )
            )
        )
    except HuafeiError as exc:
        return _sign_in_page(
            request,
            phone=phone,
            next_url=next_url,
            code_sent=exc.code == "sms_resend_too_soon",
            error=describe_error(exc, gettext),
            status=exc.status,
        )
    container.sms.send(issued.phone, issued.text)
    notice = gettext("We texted a 6-digit code to %(phone)s. It works for 5 minutes.") % {
        "phone": mask_phone(number.phone)
    }
    return _sign_in_page(
        request, phone=number.phone, next_url=next_url, code_sent=True, notice=notice
    )


@router.post("/sign-in")
def sign_in_with_code(request: Request, form: Form) -> Response:
    container = get_container(request)
    gettext = gettext_for(request)
    phone = form.get("phone", "")
    next_url = form.get("next", "")
    if not form_token_ok(request, form):
        error = describe("form_expired", gettext)
        return _sign_in_page(
            request, phone=phone, next_url=next_url, code_sent=True, error=error, status=400
        )
    origin = origin_of(request)
    now = container.clock.now()
    try:
        number = parse_mobile(phone)
        outcome = raise_refused(
            container.db.run(
                lambda s: sign_in.sign_in_with_code(
                    s,
                    number=number,
                    code=form.get("code", "")[:12],
                    kind=SessionKind.COOKIE,
                    keyring=container.keyring,
                    limiter=container.rate_limiter,
                    origin=origin,
                    now=now,
                )
            )
        )
    except HuafeiError as exc:
        return _sign_in_page(
            request,
            phone=phone,
            next_url=next_url,
            code_sent=True,
            error=describe_error(exc, gettext),
            status=exc.status,
        )
    target = safe_next(next_url, "/sell")
    target += ("&" if "?" in target else "?") + "done=signed_in"
    response = redirect(target)
    record = outcome.opened.record
    set_session_cookies(
        response,
        container,
        token=outcome.opened.token,
        max_age=int((record.expires_at - record.created_at).total_seconds()),
        session_cookie=SELLER_COOKIE,
        csrf_cookie=SELLER_CSRF_COOKIE,
    )
    return response


@router.post("/sign-out")
def sign_out(request: Request, me: Me) -> Response:
    container = get_container(request)
    context = session_context(request)
    actor = actor_for(request)
    now = container.clock.now()

    container.db.run(
        lambda s: sessions.sign_out(
            s, actor, session_id=context.session_id, now=now, seller_id=me.seller.id
        )
    )
    response = redirect("/sign-in?done=signed_out")
    clear_session_cookies(response, session_cookie=SELLER_COOKIE, csrf_cookie=SELLER_CSRF_COOKIE)
    return response


# -- verification -------------------------------------------------------------------------------
@dataclass
class LimitLine:
    """One money flow's limits: now (size, used, left per window) and at the next level."""

    flow: str
    windows: dict[str, limits.WindowStatus]
    next_sizes: dict[str, int | None] | None


def _limit_lines(session: Session, seller_id: int, tier: int, now: Any) -> list[LimitLine]:
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
    request: Request,
    me: SellerPage,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    container = get_container(request)
    now = container.clock.now()
    tier = me.seller.tier
    lines = container.db.run(lambda s: _limit_lines(s, me.seller.id, tier, now))
    return render(
        request,
        "verify.html",
        status=status,
        me=me,
        section="verify",
        tier=tier,
        lines=lines,
        windows=("per_order", "daily", "annual", "lifetime"),
        error=error,
        typed={"real_name": (form or {}).get("real_name", "")},
        flash=flash(request),
    )


@router.get("/verify")
def verify_page(request: Request, me: Me) -> Response:
    return _verify_page(request, me)


@router.post("/verify/real-name")
def verify_real_name(request: Request, me: Me, form: Form) -> Response:
    container = get_container(request)
    origin = origin_of(request)
    now = container.clock.now()
    try:
        claim = container.db.run(
            lambda s: kyc.prepare_real_name(
                s,
                seller_id=me.seller.id,
                real_name=form.get("real_name", "")[:64],
                id_number=form.get("id_number", "")[:32],
                keyring=container.keyring,
                now=now,
            )
        )
        result = container.identity_verifier.verify(
            claim.real_name, claim.id_number, form.get("selfie_token", "")[:256]
        )
        raise_refused(
            container.db.run(
                lambda s: kyc.complete_real_name(
                    s, claim=claim, result=result, keyring=container.keyring, origin=origin, now=now
                )
            )
        )
    except HuafeiError as exc:
        return _refused(request, me, exc, form, _verify_page)
    return redirect("/verify?done=l2")


@router.post("/verify/service-password")
def verify_service_password(request: Request, me: Me, form: Form) -> Response:
    container = get_container(request)
    origin = origin_of(request)
    now = container.clock.now()
    password = form.get("service_password", "")[:32]
    try:
        phone = container.db.run(
            lambda s: kyc.prepare_service_password(
                s, seller_id=me.seller.id, keyring=container.keyring, now=now
            )
        )
        matched = container.service_passwords.check(phone, password)
        raise_refused(
            container.db.run(
                lambda s: kyc.complete_service_password(
                    s,
                    seller_id=me.seller.id,
                    service_password=password,
                    matched=matched,
                    keyring=container.keyring,
                    origin=origin,
                    now=now,
                )
            )
        )
    except HuafeiError as exc:
        return _refused(request, me, exc, form, _verify_page)
    return redirect("/verify?done=l3")


def _refused(
    request: Request,
    me: SellerPage,
    exc: HuafeiError,
    form: dict[str, str],
    page: Callable[..., Response],
) -> Response:
    """Show the form again with the reason it was refused."""
    return page(
        request, me, error=describe_error(exc, gettext_for(request)), form=form, status=exc.status
    )


# -- notices ------------------------------------------------------------------------------------
#: The notice kinds a seller receives (and so may have texted); the others go to staff.
SELLER_NOTICE_KINDS: tuple[NoticeKind, ...] = tuple(
    kind for kind in NoticeKind if kind not in (NoticeKind.ESCROW_ALERT, NoticeKind.RECONCILIATION)
)


@router.get("/notices")
def notices_page(request: Request, me: Me) -> Response:
    container = get_container(request)

    def load(session: Session) -> tuple[Any, dict[str, bool]]:
        return list_notices(session, me.owner_ref, limit=100), preferences(session, me.owner_ref)

    rows, chosen = container.db.run(load)
    sms = [(kind.value, chosen[kind.value]) for kind in SELLER_NOTICE_KINDS]
    return render(
        request,
        "notices.html",
        me=me,
        section="notices",
        notices=rows,
        sms=sms,
        flash=flash(request),
    )


@router.post("/notices/preferences")
def save_notice_preferences(request: Request, me: Me, form: Form) -> Response:
    """Which notices also come by text message (a ticked box is sent as ``on``)."""
    chosen: dict[NoticeKind, bool] = {
        kind: form.get(f"sms_{kind.value}") == "on" for kind in SELLER_NOTICE_KINDS
    }
    get_container(request).db.run(lambda s: set_preferences(s, me.owner_ref, chosen))
    return redirect("/notices?done=sms_saved#sms")


@router.post("/notices/{notice_id}/read")
def read_notice(notice_id: Id, request: Request, me: Me) -> Response:
    container = get_container(request)
    container.db.run(lambda s: mark_read(s, me.owner_ref, notice_id))
    return redirect(f"/notices#notice-{notice_id}")


@router.post("/notices/read-all")
def read_all_notices(request: Request, me: Me) -> Response:
    container = get_container(request)

    def work(session: Session) -> None:
        for notice in list_notices(session, me.owner_ref, unread_only=True, limit=500):
            mark_read(session, me.owner_ref, notice.id)

    container.db.run(work)
    return redirect("/notices?done=notices_read")


# -- security -----------------------------------------------------------------------------------
@router.get("/security")
def security_page(request: Request, me: Me) -> Response:
    container = get_container(request)
    context = session_context(request)
    now = container.clock.now()
    rows = container.db.run(lambda s: sessions.list_sessions(s, now=now, seller_id=me.seller.id))
    return render(
        request,
        "security.html",
        me=me,
        section="security",
        sessions=rows,
        current_id=context.session_id,
        flash=flash(request),
    )


@router.post("/security/sessions/{session_id}/end")
def end_session(session_id: Id, request: Request, me: Me) -> Response:
    container = get_container(request)
    context = session_context(request)
    actor = actor_for(request)
    now = container.clock.now()

    def work(session: Session) -> None:
        sessions.revoke_session(
            session, session_id=session_id, now=now, reason="revoked", seller_id=me.seller.id
        )
        oplog.record(
            session,
            actor,
            "auth.session.revoked",
            now=now,
            target=f"seller:{me.seller.id}",
            detail={"session_id": session_id},
        )

    container.db.run(work)
    if session_id == context.session_id:
        response = redirect("/sign-in?done=signed_out")
        clear_session_cookies(
            response, session_cookie=SELLER_COOKIE, csrf_cookie=SELLER_CSRF_COOKIE
        )
        return response
    return redirect("/security?done=session_ended")


@router.post("/security/sign-out-everywhere")
def sign_out_everywhere(request: Request, me: Me) -> Response:
    container = get_container(request)
    actor = actor_for(request)
    now = container.clock.now()

    container.db.run(
        lambda s: sessions.sign_out_everywhere(s, actor, now=now, seller_id=me.seller.id)
    )
    response = redirect("/sign-in?done=signed_out")
    clear_session_cookies(response, session_cookie=SELLER_COOKIE, csrf_cookie=SELLER_CSRF_COOKIE)
    return response


__all__ = ["DONE", "flash", "negotiate", "router"]
