"""Signing in and out of pages, sellers and staff alike: the anonymous form's token, the
session cookies set on sign-in and cleared on sign-out, ending the page's own session."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from fastapi import Request, Response

from huafei.core.errors import HuafeiError
from huafei.identity.cookies import CookiePair
from huafei.identity.deps import CallContext, session_context
from huafei.identity.service import sessions
from huafei.portal.pages import FORM_COOKIE, redirect


class FormExpired(HuafeiError):
    code = "form_expired"
    status = 400
    title = "The form expired"


def require_form_token(request: Request, fields: Mapping[str, str]) -> None:
    """Refuse an anonymous form (sign-in) that does not repeat this visitor's form token."""
    cookie = request.cookies.get(FORM_COOKIE, "")
    sent = fields.get("form_token", "")
    if not (cookie and hmac.compare_digest(cookie.encode(), sent.encode())):
        raise FormExpired


def signed_in(
    ctx: CallContext, cookies: CookiePair, opened: sessions.OpenedSession, target: str
) -> Response:
    """Go to ``target`` with the cookies of the session just opened."""
    response = redirect(target)
    cookies.open(response, opened, keyring=ctx.keyring, settings=ctx.settings)
    return response


def signed_out(cookies: CookiePair, target: str) -> Response:
    """Go to ``target`` (a sign-in page) without the session's cookies."""
    response = redirect(target)
    cookies.clear(response)
    return response


def current_session_id(ctx: CallContext) -> int:
    """The id of the session the page came with (its page dependency checked it)."""
    return session_context(ctx.request).session_id


def sign_out_session(ctx: CallContext, cookies: CookiePair, target: str, **who: int) -> Response:
    """End the session the page came with (``seller_id=`` or ``staff_id=``, logged as the
    identity API logs it) and go to ``target`` without its cookies."""
    session_id = current_session_id(ctx)
    ctx.run(lambda s: sessions.sign_out(s, ctx.actor, session_id=session_id, now=ctx.now, **who))
    return signed_out(cookies, target)
