"""The session endpoints sellers and staff share: sign out, sign out everywhere, list the live
sessions and (sellers) end one of them. ``add_session_routes`` adds them to a router for one kind
of account."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session

from huafei.core.types import Id
from huafei.identity.cookies import CookiePair
from huafei.identity.deps import SignedInContext
from huafei.identity.schemas import SessionView
from huafei.identity.service import sessions


@dataclass(frozen=True)
class SessionRoutes:
    """What differs between sellers and staff: who, whose cookies, and the documents' words."""

    #: the context dependency of a signed-in account (``seller_context``, ``staff_context``)
    context: Callable[..., Any]
    cookies: CookiePair
    #: "seller" or "staff member", in the summaries
    who: str
    #: prefix of the operations' names (their OpenAPI ids): "" for sellers, "staff_" for staff
    prefix: str = ""
    #: whether the caller may end one session of their choice
    revoke_one: bool = False


def add_session_routes(router: APIRouter, spec: SessionRoutes) -> None:
    """Add the session endpoints of one kind of account to ``router``."""
    # The dependency is given in the defaults, where it is a value; the annotations stay typed.
    signed_in = Depends(spec.context)
    _add_sign_out(router, spec, signed_in)

    @router.get(
        "/auth/sessions",
        summary=f"This {spec.who}'s live sessions",
        name="list_sessions" if not spec.prefix else f"{spec.prefix}sessions",
    )
    def list_sessions(ctx: SignedInContext = signed_in) -> list[SessionView]:
        current_id = ctx.session.session_id
        rows = ctx.run(lambda s: sessions.list_sessions(s, now=ctx.now, **ctx.principal_ids))
        return [SessionView.of(row, current_id=current_id) for row in rows]

    if not spec.revoke_one:
        return

    @router.delete(
        "/auth/sessions/{session_id}",
        status_code=204,
        summary=f"End one of this {spec.who}'s sessions",
        name=f"{spec.prefix}revoke_session",
    )
    def revoke_session(session_id: Id, ctx: SignedInContext = signed_in) -> Response:
        ctx.run(
            lambda s: sessions.end_session(
                s, ctx.actor, session_id=session_id, now=ctx.now, **ctx.principal_ids
            )
        )
        return Response(status_code=204)


def _add_sign_out(router: APIRouter, spec: SessionRoutes, signed_in: Any) -> None:
    def this_session(s: Session, ctx: SignedInContext) -> None:
        session_id = ctx.session.session_id
        sessions.sign_out(s, ctx.actor, session_id=session_id, now=ctx.now, **ctx.principal_ids)

    def every_session(s: Session, ctx: SignedInContext) -> None:
        sessions.sign_out_everywhere(s, ctx.actor, now=ctx.now, **ctx.principal_ids)

    this = f"End this {'staff ' if spec.prefix else ''}session"
    every = f"End every session of this {spec.who}"
    for path, summary, name, end in (
        ("/auth/sign-out", this, "sign_out", this_session),
        ("/auth/sign-out-everywhere", every, "sign_out_everywhere", every_session),
    ):
        _add_ending(router, spec, signed_in, path, summary=summary, name=name, end=end)


def _add_ending(
    router: APIRouter,
    spec: SessionRoutes,
    signed_in: Any,
    path: str,
    *,
    summary: str,
    name: str,
    end: Callable[[Session, SignedInContext], None],
) -> None:
    """A sign-out endpoint: ``end`` the sessions, then clear the cookies."""

    @router.post(path, status_code=204, summary=summary, name=spec.prefix + name)
    def sign_out(ctx: SignedInContext = signed_in) -> Response:
        ctx.run(lambda s: end(s, ctx))
        response = Response(status_code=204)
        spec.cookies.clear(response)
        return response
