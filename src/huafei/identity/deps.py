"""FastAPI dependencies: who is calling, and may they?

* ``current_seller`` — a seller's cookie session (with CSRF on unsafe methods) or bearer token.
* ``current_staff`` / ``staff_with("sellers:read")`` — a staff session with the role
  that holds the permission; every staff request is written to the operation log.
* ``current_partner`` / ``partner_with("orders:read")`` — a partner API key (``X-API-Key``).
* ``actor_for(request)`` — the actor of the request for the operation log (anonymous when no
  dependency above ran), ``origin_of(request)`` — where it came from.
* the request contexts routes take (``web.context.Context`` with the caller): ``Ctx`` (anyone),
  ``SellerCtx``, ``StaffCtx`` and ``staff_with(permission)``, ``PartnerCtx``.
* the identity adapters the composition root provides (``IDENTITY_VERIFIER``,
  ``SERVICE_PASSWORDS``).

401 means "we do not know who you are" (no, unknown, expired credentials); 403 means "we know,
and this is not for you" (a valid credential of another kind, a role without the permission).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from huafei.core.logging import request_id_var
from huafei.identity import errors
from huafei.identity.adapters import IdentityVerifier, ServicePasswordChecker
from huafei.identity.cookies import API_KEY_HEADER, CSRF_HEADER, SELLER_COOKIE, STAFF_COOKIE
from huafei.identity.models import AuthSession, Partner, PartnerApiKey, Seller, Staff
from huafei.identity.permissions import Permission, Scope, role_allows
from huafei.identity.service import oplog, partners, sessions
from huafei.identity.service.oplog import Actor, Origin
from huafei.identity.service.partners import partner_actor
from huafei.identity.service.sign_in import seller_actor
from huafei.identity.service.staff import staff_actor
from huafei.web.context import Context, Platform, Provided, platform_of
from huafei.web.openapi import declare_principal

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

PrincipalKind = Literal["seller", "staff"]
T = TypeVar("T")

#: The real-name (level 2) and service-password (level 3) checks, chosen by the composition root.
IDENTITY_VERIFIER: Provided[IdentityVerifier] = Provided("identity_verifier")
SERVICE_PASSWORDS: Provided[ServicePasswordChecker] = Provided("service_passwords")
Verifier = Annotated[IdentityVerifier, Depends(IDENTITY_VERIFIER.of)]
ServicePasswords = Annotated[ServicePasswordChecker, Depends(SERVICE_PASSWORDS.of)]


def origin_of(request: Request) -> Origin:
    return Origin(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        request_id=request_id_var.get(),
    )


def actor_for(request: Request) -> Actor:
    """The actor recorded by the authentication dependency, or an anonymous one."""
    actor = getattr(request.state, "actor", None)
    return actor if isinstance(actor, Actor) else Actor.anonymous(origin_of(request))


@dataclass(frozen=True, slots=True)
class SessionContext:
    """The session a request came with (for sign-out, the session list's ``current`` flag)."""

    session_id: int
    kind: str
    token: str


def session_context(request: Request) -> SessionContext:
    """The session of a request that passed ``current_seller`` or a staff dependency."""
    context = getattr(request.state, "session_context", None)
    if not isinstance(context, SessionContext):
        raise errors.NotAuthenticated
    return context


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


@dataclass(frozen=True, slots=True)
class _Found:
    record: AuthSession
    seller: Seller | None
    staff: Staff | None


def _other_credentials_valid(request: Request, platform: Platform, want: str) -> bool:
    """Whether the request carries a valid credential of a kind other than ``want``."""
    now = platform.clock.now()
    tokens = []
    if want != "seller" and request.cookies.get(SELLER_COOKIE):
        tokens.append(request.cookies[SELLER_COOKIE])
    if want != "staff" and request.cookies.get(STAFF_COOKIE):
        tokens.append(request.cookies[STAFF_COOKIE])
    bearer = _bearer(request)
    if want == "partner" and bearer:
        tokens.append(bearer)
    key = request.headers.get(API_KEY_HEADER)

    def work(session: Session) -> bool:
        for token in tokens:
            try:
                sessions.resolve_session(session, token, now=now, touch=False)
            except errors.NotAuthenticated:
                continue
            return True
        if want != "partner" and key:
            return partners.authenticate_api_key(session, presented=key, now=now) is not None
        return False

    if not tokens and not (want != "partner" and key):
        return False
    return platform.db.run(work)


def _authenticate(request: Request, want: PrincipalKind, *, form_csrf: str | None = None) -> _Found:
    platform = platform_of(request)
    bearer = _bearer(request)
    via = "bearer" if bearer else "cookie"
    token = bearer or request.cookies.get(SELLER_COOKIE if want == "seller" else STAFF_COOKIE)
    if not token:
        if _other_credentials_valid(request, platform, want):
            raise errors.Forbidden(f"This needs a {want} account.")
        raise errors.NotAuthenticated
    now = platform.clock.now()
    unsafe = request.method not in SAFE_METHODS
    presented_csrf = request.headers.get(CSRF_HEADER) or form_csrf

    def work(session: Session) -> _Found:
        record = sessions.resolve_session(session, token, now=now, touch=False)
        if record.kind != via:
            raise errors.NotAuthenticated(
                "Cookie sessions work only as cookies and bearer tokens only as bearer tokens."
            )
        seller = session.get(Seller, record.seller_id) if record.seller_id else None
        staff = session.get(Staff, record.staff_id) if record.staff_id else None
        if (want == "seller" and seller is None) or (want == "staff" and staff is None):
            raise errors.Forbidden(f"This needs a {want} account.")
        if staff is not None and not staff.active:
            raise errors.SessionExpired("This staff account is disabled.")
        csrf_needed = via == "cookie" and unsafe
        if csrf_needed and not sessions.csrf_matches(platform.keyring, token, presented_csrf):
            raise errors.CsrfFailed
        sessions.touch_session(session, record, now=now)
        return _Found(record, seller, staff)

    found = platform.db.run(work)
    request.state.session_context = SessionContext(found.record.id, found.record.kind, token)
    return found


def current_seller(request: Request) -> Seller:
    """The signed-in seller (cookie session or bearer token), else a 401/403 problem."""
    return authenticate_seller(request)


def authenticate_seller(request: Request, *, form_csrf: str | None = None) -> Seller:
    """``current_seller`` for callers that are not a dependency: the portal's pages, whose HTML
    forms carry the session's CSRF token as a field (``form_csrf``) instead of the header."""
    seller = _authenticate(request, "seller", form_csrf=form_csrf).seller
    if seller is None:  # pragma: no cover - _authenticate answered 403 already
        raise errors.Forbidden
    request.state.actor = seller_actor(seller, origin_of(request))
    return seller


def _staff_request_logged(
    request: Request, staff: Staff, *, permission: str | None, allowed: bool
) -> None:
    """Every staff request goes in the operation log: who, what route, when, from where."""
    platform = platform_of(request)
    now = platform.clock.now()
    route = request.scope.get("route")
    detail = {
        "method": request.method,
        "route": getattr(route, "path", request.url.path),
        "params": {k: str(v)[:40] for k, v in request.path_params.items()},
    }
    if permission:
        detail["permission"] = permission
    actor = staff_actor(staff, origin_of(request))

    def work(session: Session) -> None:
        oplog.record(
            session,
            actor,
            "staff.request" if allowed else "staff.permission_denied",
            now=now,
            target=f"staff:{staff.id}",
            outcome="ok" if allowed else "refused",
            detail=detail,
        )

    platform.db.run(work)


def current_staff(request: Request) -> Staff:
    """Any signed-in staff member (no permission needed: their own profile, sign-out)."""
    return authenticate_staff(request)


def authenticate_staff(
    request: Request, *, permission: str | None = None, form_csrf: str | None = None
) -> Staff:
    """The signed-in staff member, if their role holds ``permission`` (any staff member when
    None); the request goes in the operation log either way. Pages pass the CSRF token of an
    HTML form as ``form_csrf``."""
    staff = _authenticate(request, "staff", form_csrf=form_csrf).staff
    if staff is None:  # pragma: no cover - _authenticate answered 403 already
        raise errors.Forbidden
    allowed = permission is None or role_allows(staff.role, permission)
    _staff_request_logged(request, staff, permission=permission, allowed=allowed)
    if not allowed:
        raise errors.PermissionDenied(
            f"The {staff.role} role does not hold {permission}.", permission=permission
        )
    request.state.actor = staff_actor(staff, origin_of(request))
    return staff


def staff_with(permission: str) -> Callable[[Request], StaffContext]:
    """A dependency: the context of a signed-in staff member whose role holds ``permission``."""
    Permission(permission)  # an unknown name is a bug: fail when the route is declared

    def dependency(request: Request) -> StaffContext:
        staff = authenticate_staff(request, permission=permission)
        return StaffContext(request, platform_of(request), staff)

    dependency.__name__ = f"require_{permission.replace(':', '_')}"
    return declare_principal(dependency, "staff")


@dataclass(frozen=True, slots=True)
class PartnerCaller:
    partner: Partner
    key: PartnerApiKey


def current_partner_caller(request: Request) -> PartnerCaller:
    """The partner and the API key of the call (``X-API-Key``), else a 401/403 problem."""
    platform = platform_of(request)
    presented = request.headers.get(API_KEY_HEADER)
    if not presented:
        if _other_credentials_valid(request, platform, "partner"):
            raise errors.Forbidden("This needs a partner API key.")
        raise errors.NotAuthenticated("Send the partner API key in the X-API-Key header.")
    now = platform.clock.now()
    origin = origin_of(request)

    def work(session: Session) -> PartnerCaller | errors.Refused:
        found = partners.authenticate_api_key(session, presented=presented, now=now)
        if found is None:
            parts = partners.split_key(presented)
            oplog.record(
                session,
                Actor.anonymous(origin),
                "auth.api_key.rejected",
                now=now,
                outcome="refused",
                detail={"key_id": parts[0] if parts else None},
            )
            return errors.Refused(errors.InvalidApiKey())
        return PartnerCaller(*found)

    outcome = platform.db.run(work)
    if isinstance(outcome, errors.Refused):
        raise outcome.error
    request.state.actor = partner_actor(outcome.partner, outcome.key, origin)
    return outcome


def current_partner(request: Request) -> Partner:
    """The partner of a valid API key in ``X-API-Key``, else a 401/403 problem."""
    return current_partner_caller(request).partner


def raise_refused(outcome: T | errors.Refused) -> T:
    """Raise a committed refusal's error, or pass the result through."""
    if isinstance(outcome, errors.Refused):
        raise outcome.error
    return outcome


declare_principal(current_seller, "seller")
declare_principal(current_staff, "staff")
declare_principal(current_partner_caller, "partner")
declare_principal(current_partner, "partner")


# -- request contexts ----------------------------------------------------------------------------
class CallContext(Context):
    """A request's context with where it came from and who acts (for the operation log)."""

    __slots__ = ()

    @property
    def origin(self) -> Origin:
        return origin_of(self.request)

    @property
    def actor(self) -> Actor:
        """The caller recorded by the authentication dependency, else an anonymous actor."""
        return actor_for(self.request)

    @property
    def attempt(self) -> dict[str, Any]:
        """What a rate-limited, logged attempt takes (sign-in, texted codes): ``keyring``,
        ``limiter``, ``origin`` and ``now``."""
        return {
            "keyring": self.keyring,
            "limiter": self.rate_limiter,
            "origin": self.origin,
            "now": self.now,
        }

    def settle(self, work: Callable[[Session], T | errors.Refused]) -> T:
        """``run(work)``, then raise the refusal ``work`` returned (committed with the work, so a
        wrong code or password still counts)."""
        return raise_refused(self.run(work))


class SignedInContext(CallContext):
    """A request that came with a session (a seller's or a staff member's)."""

    __slots__ = ()

    @property
    def session(self) -> SessionContext:
        return session_context(self.request)

    @property
    def principal_ids(self) -> dict[str, Any]:
        """Whose sessions: ``{"seller_id": …}`` or ``{"staff_id": …}``."""
        raise NotImplementedError

    @property
    def keeping_this_session(self) -> dict[str, Any]:
        """What a change that ends the caller's other sessions takes (a new password):
        ``keep_session_id``, ``origin`` and ``now``."""
        return {"keep_session_id": self.session.session_id, "origin": self.origin, "now": self.now}


@dataclass(slots=True, eq=False)
class SellerContext(SignedInContext):
    """A signed-in seller's request."""

    seller: Seller

    @property
    def owner_ref(self) -> str:
        """The owner of the seller's orders, wallet and notices."""
        return self.seller.ledger_owner_ref

    @property
    def verified_real_name(self) -> str | None:
        """The real name on the seller's ID once verified (level 2), which payout accounts
        must be in."""
        return self.seller.real_name(self.keyring) if self.seller.tier >= 2 else None

    @property
    def principal_ids(self) -> dict[str, Any]:
        return {"seller_id": self.seller.id}


@dataclass(slots=True, eq=False)
class StaffContext(SignedInContext):
    """A signed-in staff member's request (already written to the operation log)."""

    staff: Staff

    @property
    def principal_ids(self) -> dict[str, Any]:
        return {"staff_id": self.staff.id}


@dataclass(slots=True, eq=False)
class PartnerContext(CallContext):
    """A partner's request, with the API key it came with."""

    caller: PartnerCaller


async def call_context(request: Request) -> CallContext:
    return CallContext(request, platform_of(request))


async def seller_context(
    request: Request, seller: Annotated[Seller, Depends(current_seller)]
) -> SellerContext:
    return SellerContext(request, platform_of(request), seller)


async def staff_context(
    request: Request, staff: Annotated[Staff, Depends(current_staff)]
) -> StaffContext:
    return StaffContext(request, platform_of(request), staff)


async def partner_context(
    request: Request, caller: Annotated[PartnerCaller, Depends(current_partner_caller)]
) -> PartnerContext:
    return PartnerContext(request, platform_of(request), caller)


def partner_with(scope: str) -> Callable[[Request], PartnerContext]:
    """A dependency: the context of a partner whose key carries ``scope``."""
    Scope(scope)

    def dependency(request: Request) -> PartnerContext:
        caller = current_partner_caller(request)
        if scope not in caller.key.scope_set:
            raise errors.ScopeMissing(scope=scope)
        return PartnerContext(request, platform_of(request), caller)

    dependency.__name__ = f"require_scope_{scope.replace(':', '_')}"
    return declare_principal(dependency, "partner")


Ctx = Annotated[CallContext, Depends(call_context)]
SellerCtx = Annotated[SellerContext, Depends(seller_context)]
StaffCtx = Annotated[StaffContext, Depends(staff_context)]
PartnerCtx = Annotated[PartnerContext, Depends(partner_context)]
