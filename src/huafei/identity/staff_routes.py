"""The operations console's API: staff sign-in, staff accounts, sellers, the log, partners.

Every route here depends on ``current_staff`` or ``require_permission``, which writes each
request to the operation log; routes that change something add an entry of their own.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.orm import Session

from huafei.core.types import Id, Text
from huafei.identity import errors, limits
from huafei.identity.deps import (
    STAFF_COOKIE,
    STAFF_CSRF_COOKIE,
    actor_for,
    current_staff,
    get_container,
    origin_of,
    raise_refused,
    require_permission,
    session_context,
)
from huafei.identity.models import Seller, Staff
from huafei.identity.policy import STAFF_PASSWORD_MIN_LENGTH
from huafei.identity.routes import clear_session_cookies, set_session_cookies
from huafei.identity.schemas import (
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyView,
    LimitRowView,
    LimitsView,
    OperationLogView,
    PartnerCreate,
    PartnerView,
    SellerView,
    SessionView,
    StaffCreate,
    StaffCreated,
    StaffPasswordChange,
    StaffSignedInView,
    StaffSignIn,
    StaffUpdate,
    StaffView,
)
from huafei.identity.schemas import FlowLimitsView as FlowView
from huafei.identity.service import oplog, partners, sessions
from huafei.identity.service import staff as staff_service
from huafei.identity.service.sessions import SessionKind
from huafei.identity.validation import check_password

router = APIRouter(prefix="/api/v1/staff", tags=["operations console"])
KeyId = Annotated[Text, Path(max_length=64)]


# -- sign-in -------------------------------------------------------------------------------------
@router.post(
    "/auth/sign-in",
    summary="Staff sign-in: username, password and TOTP code",
    responses={401: {}, 429: {}},
)
def staff_sign_in(body: StaffSignIn, request: Request, response: Response) -> StaffSignedInView:
    container = get_container(request)
    origin = origin_of(request)
    now = container.clock.now()
    outcome = raise_refused(
        container.db.run(
            lambda s: staff_service.sign_in_staff(
                s,
                username=body.username,
                password=body.password,
                totp_code=body.totp_code,
                kind=SessionKind(body.session),
                keyring=container.keyring,
                limiter=container.rate_limiter,
                origin=origin,
                now=now,
            )
        )
    )
    record = outcome.opened.record
    view = StaffSignedInView(
        staff=StaffView.of(outcome.staff), session=SessionView.of(record, current_id=record.id)
    )
    if record.kind == SessionKind.COOKIE:
        view.csrf_token = set_session_cookies(
            response,
            container,
            token=outcome.opened.token,
            max_age=int((record.expires_at - record.created_at).total_seconds()),
            session_cookie=STAFF_COOKIE,
            csrf_cookie=STAFF_CSRF_COOKIE,
        )
    else:
        view.token = outcome.opened.token
    return view


@router.post("/auth/sign-out", status_code=204, summary="End this staff session")
def staff_sign_out(request: Request, staff: Annotated[Staff, Depends(current_staff)]) -> Response:
    container = get_container(request)
    context = session_context(request)
    actor = actor_for(request)
    now = container.clock.now()

    container.db.run(
        lambda s: sessions.sign_out(
            s, actor, session_id=context.session_id, now=now, staff_id=staff.id
        )
    )
    response = Response(status_code=204)
    clear_session_cookies(response, session_cookie=STAFF_COOKIE, csrf_cookie=STAFF_CSRF_COOKIE)
    return response


@router.post(
    "/auth/sign-out-everywhere", status_code=204, summary="End every session of this staff member"
)
def staff_sign_out_everywhere(
    request: Request, staff: Annotated[Staff, Depends(current_staff)]
) -> Response:
    container = get_container(request)
    actor = actor_for(request)
    now = container.clock.now()

    container.db.run(lambda s: sessions.sign_out_everywhere(s, actor, now=now, staff_id=staff.id))
    response = Response(status_code=204)
    clear_session_cookies(response, session_cookie=STAFF_COOKIE, csrf_cookie=STAFF_CSRF_COOKIE)
    return response


@router.get("/auth/sessions", summary="This staff member's live sessions")
def staff_sessions(
    request: Request, staff: Annotated[Staff, Depends(current_staff)]
) -> list[SessionView]:
    container = get_container(request)
    context = session_context(request)
    now = container.clock.now()
    rows = container.db.run(lambda s: sessions.list_sessions(s, now=now, staff_id=staff.id))
    return [SessionView.of(row, current_id=context.session_id) for row in rows]


@router.get("/me", summary="The signed-in staff member and their permissions")
def staff_me(staff: Annotated[Staff, Depends(current_staff)]) -> StaffView:
    return StaffView.of(staff)


@router.put("/me/password", summary="Change one's own password (other sessions end)")
def staff_change_password(
    body: StaffPasswordChange, request: Request, staff: Annotated[Staff, Depends(current_staff)]
) -> StaffView:
    container = get_container(request)
    context = session_context(request)
    origin = origin_of(request)
    now = container.clock.now()
    updated = raise_refused(
        container.db.run(
            lambda s: staff_service.change_staff_password(
                s,
                staff_id=staff.id,
                current_password=body.current_password,
                new_password=body.new_password,
                keep_session_id=context.session_id,
                origin=origin,
                now=now,
            )
        )
    )
    return StaffView.of(updated)


# -- staff accounts ------------------------------------------------------------------------------
@router.get("/accounts", summary="Staff accounts")
def list_staff(
    request: Request, _: Annotated[Staff, Depends(require_permission("staff:manage"))]
) -> list[StaffView]:
    container = get_container(request)
    return [StaffView.of(s) for s in container.db.run(staff_service.list_staff)]


def _initial_password() -> str:
    while True:
        candidate = secrets.token_urlsafe(15)
        try:
            return check_password(candidate, min_length=STAFF_PASSWORD_MIN_LENGTH)
        except errors.WeakPassword:  # pragma: no cover - vanishingly rare
            continue


@router.post("/accounts", status_code=201, summary="Create a staff account (secrets shown once)")
def create_staff(
    body: StaffCreate,
    request: Request,
    _: Annotated[Staff, Depends(require_permission("staff:manage"))],
) -> StaffCreated:
    container = get_container(request)
    actor = actor_for(request)
    now = container.clock.now()
    password = _initial_password()
    created = container.db.run(
        lambda s: staff_service.create_staff(
            s,
            username=body.username,
            role=body.role,
            password=password,
            keyring=container.keyring,
            actor=actor,
            now=now,
        )
    )
    return StaffCreated(
        staff=StaffView.of(created.staff),
        initial_password=password,
        totp_secret=created.totp_secret,
        provisioning_uri=created.provisioning_uri,
    )


@router.patch("/accounts/{staff_id}", summary="Change a staff member's role or disable them")
def update_staff(
    staff_id: Id,
    body: StaffUpdate,
    request: Request,
    _: Annotated[Staff, Depends(require_permission("staff:manage"))],
) -> StaffView:
    container = get_container(request)
    actor = actor_for(request)
    now = container.clock.now()
    updated = container.db.run(
        lambda s: staff_service.update_staff(
            s, staff_id=staff_id, role=body.role, active=body.active, actor=actor, now=now
        )
    )
    return StaffView.of(updated)


# -- sellers -------------------------------------------------------------------------------------
@router.get("/sellers/{seller_id}", summary="A seller's profile (masked), tier and limits")
def get_seller(
    seller_id: Id,
    request: Request,
    _: Annotated[Staff, Depends(require_permission("sellers:read"))],
) -> SellerView:
    container = get_container(request)

    def work(session: Session) -> Seller:
        seller = session.get(Seller, seller_id)
        if seller is None:
            raise errors.SellerNotFound
        return seller

    return SellerView.of(container.db.run(work), container.keyring)


@router.get("/sellers/{seller_id}/limits", summary="A seller's limits, used and left")
def get_seller_limits(
    seller_id: Id,
    request: Request,
    _: Annotated[Staff, Depends(require_permission("sellers:read"))],
) -> LimitsView:
    container = get_container(request)
    now = container.clock.now()
    statuses = container.db.run(lambda s: limits.limit_status(s, seller_id=seller_id, now=now))
    return LimitsView(tier=statuses[0].tier, flows=[FlowView.of(status) for status in statuses])


@router.get("/kyc-limits", summary="The limits table: tier × flow")
def kyc_limits(
    request: Request, _: Annotated[Staff, Depends(require_permission("limits:read"))]
) -> list[LimitRowView]:
    container = get_container(request)
    rows = container.db.run(limits.all_limits)
    return [
        LimitRowView(
            tier=r.tier,
            flow=r.flow,
            per_order_fen=r.per_order_fen,
            daily_fen=r.daily_fen,
            annual_fen=r.annual_fen,
            lifetime_fen=r.lifetime_fen,
        )
        for r in rows
    ]


# -- operation log -------------------------------------------------------------------------------
@router.get("/operation-log", summary="The operation log, newest first")
def operation_log(
    request: Request,
    _: Annotated[Staff, Depends(require_permission("oplog:read"))],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Id | None = None,
    action: Annotated[Text | None, Query(max_length=64)] = None,
    actor_kind: Annotated[Text | None, Query(max_length=16)] = None,
    actor_id: Id | None = None,
) -> list[OperationLogView]:
    container = get_container(request)
    entries = container.db.run(
        lambda s: oplog.read_log(
            s,
            limit=limit,
            before_id=before_id,
            action=action,
            actor_kind=actor_kind,
            actor_id=actor_id,
        )
    )
    return [OperationLogView.of(e) for e in entries]


# -- partners ------------------------------------------------------------------------------------
@router.get("/partners", summary="Partners and their API keys (never the secrets)")
def list_partners(
    request: Request, _: Annotated[Staff, Depends(require_permission("partners:manage"))]
) -> list[PartnerView]:
    container = get_container(request)
    return [PartnerView.of(p, k) for p, k in container.db.run(partners.list_partners)]


@router.post("/partners", status_code=201, summary="Create a partner")
def create_partner(
    body: PartnerCreate,
    request: Request,
    _: Annotated[Staff, Depends(require_permission("partners:manage"))],
) -> PartnerView:
    container = get_container(request)
    actor = actor_for(request)
    now = container.clock.now()
    partner = container.db.run(
        lambda s: partners.create_partner(s, name=body.name, actor=actor, now=now)
    )
    return PartnerView.of(partner, [])


@router.post(
    "/partners/{partner_id}/keys", status_code=201, summary="Issue an API key (shown once)"
)
def issue_key(
    partner_id: Id,
    body: ApiKeyCreate,
    request: Request,
    _: Annotated[Staff, Depends(require_permission("partners:manage"))],
) -> ApiKeyIssued:
    container = get_container(request)
    actor = actor_for(request)
    now = container.clock.now()
    issued = container.db.run(
        lambda s: partners.issue_api_key(
            s, partner_id=partner_id, scopes=body.scopes, actor=actor, now=now
        )
    )
    return ApiKeyIssued(key=issued.key, api_key=ApiKeyView.of(issued.record))


@router.post(
    "/partners/{partner_id}/keys/{key_id}/rotate",
    status_code=201,
    summary="Replace a key; the old one works for a grace period",
)
def rotate_key(
    partner_id: Id,
    key_id: KeyId,
    request: Request,
    _: Annotated[Staff, Depends(require_permission("partners:manage"))],
) -> ApiKeyIssued:
    container = get_container(request)
    actor = actor_for(request)
    now = container.clock.now()
    issued = container.db.run(
        lambda s: partners.rotate_api_key(
            s, partner_id=partner_id, key_id=key_id, actor=actor, now=now
        )
    )
    return ApiKeyIssued(key=issued.key, api_key=ApiKeyView.of(issued.record))


@router.delete("/partners/{partner_id}/keys/{key_id}", summary="Revoke a key at once")
def revoke_key(
    partner_id: Id,
    key_id: KeyId,
    request: Request,
    _: Annotated[Staff, Depends(require_permission("partners:manage"))],
) -> ApiKeyView:
    container = get_container(request)
    actor = actor_for(request)
    now = container.clock.now()
    key = container.db.run(
        lambda s: partners.revoke_api_key(
            s, partner_id=partner_id, key_id=key_id, actor=actor, now=now
        )
    )
    return ApiKeyView.of(key)
