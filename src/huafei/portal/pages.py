"""What every page shares: who is looking, forms and their CSRF tokens, rendering, errors.

Pages use the identity services' sessions exactly as the API does (the same cookies, the same
checks); an HTML form carries the session's CSRF token as the field ``csrf_token`` instead of the
``X-CSRF-Token`` header. Anonymous forms (sign-in) carry a double-submit token instead: a random
value in a ``SameSite=Strict`` cookie that the form must repeat, so no other site can sign a
visitor in to an account of its choosing.

Refusals become pages: a page route raising ``NotAuthenticated`` (no or an ended session)
redirects to the sign-in page (303) and comes back after it; any other ``HuafeiError`` renders
the error page in the visitor's language with the error's status (403 for a seller page opened
with a staff session, 404 for someone else's order …).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from huafei.core.errors import HuafeiError
from huafei.core.text import require_text
from huafei.identity import errors as identity_errors
from huafei.identity.deps import (
    SAFE_METHODS,
    CallContext,
    authenticate_seller,
    authenticate_staff,
    call_context,
    session_context,
)
from huafei.identity.models import Seller, Staff
from huafei.identity.permissions import permissions_of
from huafei.identity.schemas import SellerView
from huafei.identity.service import sessions
from huafei.notices.service import unread_count
from huafei.orders import service as orders
from huafei.orders.models import Order, OrderEvent
from huafei.portal.i18n import N_, negotiate
from huafei.portal.messages import describe, describe_error
from huafei.portal.ui import gettext_for, ui_of
from huafei.web.context import Platform, platform_of

FORM_COOKIE = "huafei_form"
SELLER_SIGN_IN = "/sign-in"
#: Pages load scripts and styles only from this site and are never framed by another (htmx
#: adds one inline style for its request indicators, hence 'unsafe-inline' for styles only).
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
STAFF_SIGN_IN = "/console/sign-in"

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


# -- who is looking -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SellerPage:
    """The signed-in seller of a page, masked for display, with the form token and the badge."""

    seller: Seller
    view: SellerView
    csrf: str
    unread: int

    @property
    def owner_ref(self) -> str:
        return self.seller.ledger_owner_ref


@dataclass(frozen=True)
class StaffPage:
    staff: Staff
    csrf: str
    permissions: frozenset[str]

    def can(self, permission: str) -> bool:
        return permission in self.permissions


async def _form_csrf(request: Request) -> str | None:
    if request.method in SAFE_METHODS:
        return None
    value = (await request.form()).get("csrf_token")
    return value if isinstance(value, str) else None


def _csrf_of(request: Request, platform: Platform) -> str:
    context = session_context(request)
    if context.kind != sessions.SessionKind.COOKIE:
        return ""  # a bearer request needs no CSRF token
    return sessions.csrf_token_for(platform.keyring, context.token)


async def seller_page(request: Request) -> SellerPage:
    """The signed-in seller (a dependency of seller pages), else sign-in or a 403 page."""
    form_csrf = await _form_csrf(request)
    platform = platform_of(request)

    def work() -> SellerPage:
        seller = authenticate_seller(request, form_csrf=form_csrf)
        unread = platform.db.run(lambda s: unread_count(s, seller.ledger_owner_ref))
        return SellerPage(
            seller=seller,
            view=SellerView.of(seller, platform.keyring),
            csrf=_csrf_of(request, platform),
            unread=unread,
        )

    return await run_in_threadpool(work)


async def optional_seller(request: Request) -> SellerPage | None:
    """The seller, when a seller session comes with a public page (to show the menu)."""
    if request.method not in SAFE_METHODS:
        return None
    try:
        return await seller_page(request)
    except (identity_errors.NotAuthenticated, identity_errors.Forbidden):
        return None


def staff_page(
    permission: str | None = None,
) -> Callable[[Request], Coroutine[Any, Any, StaffPage]]:
    """A dependency of console pages: the signed-in staff member holding ``permission``."""

    async def dependency(request: Request) -> StaffPage:
        form_csrf = await _form_csrf(request)
        platform = platform_of(request)

        def work() -> StaffPage:
            staff = authenticate_staff(request, permission=permission, form_csrf=form_csrf)
            return StaffPage(
                staff=staff,
                csrf=_csrf_of(request, platform),
                permissions=frozenset(str(p) for p in permissions_of(staff.role)),
            )

        return await run_in_threadpool(work)

    dependency.__name__ = f"staff_page_{(permission or 'any').replace(':', '_')}"
    return dependency


# -- forms --------------------------------------------------------------------------------------
#: Form fields that may hold several lines (the pasted batch of cards).
MULTILINE_FIELDS = frozenset({"cards"})


async def form_fields(request: Request) -> dict[str, str]:
    """The submitted form's text fields (files are ignored), stripped of surrounding spaces
    except where spacing matters (pasted card lines are kept as typed).

    Every field passes the text rules of the API (``core.text``): a control character or a
    digit of another script anywhere is refused with the 422 page, before any handler runs.
    """
    form = await request.form()
    fields = {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            continue
        multiline = key in MULTILINE_FIELDS
        require_text(value, multiline=multiline, field=key[:32])
        fields[key] = value if multiline else value.strip()
    return fields


def form_token(request: Request) -> str:
    """The anonymous form token of this visitor (made on first use, set as a cookie by
    ``render``)."""
    token = getattr(request.state, "form_token", None)
    if not isinstance(token, str):
        token = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)
        request.state.form_token = token
    return token


def safe_next(value: str | None, default: str) -> str:
    """Only a path on this site may be the place to go back to after signing in."""
    if not value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value:
        return default
    return value


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


class InvalidChoice(HuafeiError):
    code = "validation_failed"
    status = 422
    title = "Not a valid choice"


def chosen_number(text: str) -> int:
    """A number a form offered (an id, an amount in fen from a list); ``InvalidChoice`` for
    anything else."""
    if not text.isdigit() or len(text) > 18:
        raise InvalidChoice
    return int(text)


# -- reads several pages make ------------------------------------------------------------------
def order_with_timeline(
    session: Session, order_id: int, *, owner_ref: str | None = None
) -> tuple[Order, list[OrderEvent]]:
    """An order (the owner's only, when given) and its events, oldest first."""
    order = orders.get_order(session, order_id, owner_ref=owner_ref)
    return order, orders.timeline(session, order.id)


# -- rendering ----------------------------------------------------------------------------------
def render(
    request: Request,
    template: str,
    *,
    status: int = 200,
    me: SellerPage | None = None,
    staff: StaffPage | None = None,
    refused: HuafeiError | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` with what every page needs; a ``refused`` form comes back with the
    reason and the error's status. Signed-in pages are never cached."""
    settings = platform_of(request).settings
    values: dict[str, Any] = {
        "me": me,
        "staff": staff,
        "csrf": (me.csrf if me else staff.csrf if staff else ""),
        "sandboxes": settings.sandboxes,
        "section": "",
        "flash": None,
        "error": None,
        "current_url": _current_url(request),
        "form_token": form_token(request),
        **context,
    }
    if refused is not None:
        status = refused.status
        values["error"] = describe_error(refused, gettext_for(request))
    response = ui_of(request).render(request, template, values, status=status)
    response.headers.update(PAGE_HEADERS)
    if me is not None or staff is not None:
        response.headers["Cache-Control"] = "no-store"
    if request.cookies.get(FORM_COOKIE) != values["form_token"]:
        response.set_cookie(
            FORM_COOKIE,
            values["form_token"],
            httponly=True,
            samesite="strict",
            secure=settings.env == "production",
        )
    return response


def _current_url(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def error_page(
    request: Request, error: HuafeiError, *, template: str = "error.html"
) -> HTMLResponse:
    gettext = gettext_for(request)
    return render(
        request,
        template,
        status=error.status,
        message=describe_error(error, gettext),
        code=error.code,
        console=request.url.path.startswith("/console"),
    )


def not_found_page(request: Request) -> HTMLResponse:
    return error_page(request, _NotFoundPage())


class _NotFoundPage(HuafeiError):
    code = "not_found"
    status = 404
    title = "Not found"


def sign_in_redirect(request: Request) -> Response:
    console = request.url.path.startswith("/console")
    target = STAFF_SIGN_IN if console else SELLER_SIGN_IN
    if request.headers.get("hx-request"):
        # A partial (the live check, the progress poll) whose session ended: the whole page
        # goes to sign-in, not the partial's slot.
        return Response(status_code=204, headers={"HX-Redirect": target})
    if request.method in SAFE_METHODS:
        target += "?next=" + quote(_current_url(request), safe="/")
    return redirect(target)


class PageRoute(APIRoute):
    """A route that answers refusals with pages rather than problem documents."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                for name, value in request.query_params.multi_items():
                    require_text(value, field=name[:32])
                return await handler(request)
            except identity_errors.NotAuthenticated:
                return sign_in_redirect(request)
            except HuafeiError as error:
                return error_page(request, error)
            except RequestValidationError:
                return error_page(request, _NotFoundPage())

        return page_handler


def wants_html(request: Request) -> bool:
    """A browser asking for a page (not the API, not a channel's callback)."""
    path = request.url.path
    if path.startswith(("/api/", "/callbacks/", "/sandbox/", "/static/")):
        return False
    return "text/html" in request.headers.get("accept", "")


def html_error(request: Request, status: int, code: str) -> HTMLResponse | None:
    """The friendly page for an error met outside a page route (an unknown address), or None
    when the request is not a browser's."""
    if not wants_html(request):
        return None
    gettext = gettext_for(request)
    return render(
        request,
        "error.html",
        status=status,
        message=describe(code, gettext, status=status),
        code=code,
        console=request.url.path.startswith("/console"),
    )


#: What a page handler takes: the request context, who is looking, the submitted form.
PageCtx = Annotated[CallContext, Depends(call_context)]
Me = Annotated[SellerPage, Depends(seller_page)]
MaybeMe = Annotated[SellerPage | None, Depends(optional_seller)]
Form = Annotated[dict[str, str], Depends(form_fields)]

__all__ = [
    "DONE",
    "Form",
    "MaybeMe",
    "Me",
    "PageCtx",
    "PageRoute",
    "SellerPage",
    "StaffPage",
    "error_page",
    "flash",
    "form_fields",
    "html_error",
    "negotiate",
    "optional_seller",
    "order_with_timeline",
    "redirect",
    "render",
    "safe_next",
    "seller_page",
    "staff_page",
]
