"""The operations console's API: staff sign-in, staff accounts, sellers, the log, partners.

Every route here depends on ``StaffCtx`` or ``staff_with(permission)``, which writes each
request to the operation log; routes that change something add an entry of their own.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Response
from sqlalchemy.orm import Session

from huafei.core.types import Id, Text
from huafei.identity import errors, limits
from huafei.identity.cookies import STAFF_COOKIES
from huafei.identity.deps import Ctx, StaffContext, StaffCtx, staff_context, staff_with
from huafei.identity.models import Seller
from huafei.identity.policy import STAFF_PASSWORD_MIN_LENGTH
from huafei.identity.routes.sessions import SessionRoutes, add_session_routes
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
from huafei.identity.service import oplog, partners
from huafei.identity.service import staff as staff_service
from huafei.identity.service.sessions import SessionKind
from huafei.identity.validation import check_password

router = APIRouter(prefix="/api/v1/staff", tags=["operations console"])
KeyId = Annotated[Text, Path(max_length=64)]
StaffManagers = Annotated[StaffContext, Depends(staff_with("staff:manage"))]
SellerReaders = Annotated[StaffContext, Depends(staff_with("sellers:read"))]
LimitReaders = Annotated[StaffContext, Depends(staff_with("limits:read"))]
LogReaders = Annotated[StaffContext, Depends(staff_with("oplog:read"))]
PartnerManagers = Annotated[StaffContext, Depends(staff_with("partners:manage"))]
T = TypeVar("T")


# -- sign-in -------------------------------------------------------------------------------------
@router.post(
    "/auth/sign-in",
    summary="Staff sign-in: username, password and TOTP code",
    responses={401: {}, 429: {}},
)
def staff_sign_in(body: StaffSignIn, ctx: Ctx, response: Response) -> StaffSignedInView:
    outcome = ctx.settle(
        lambda s: staff_service.sign_in_staff(
            s,
            username=body.username,
            password=body.password,
            totp_code=body.totp_code,
            kind=SessionKind(body.session),
            **ctx.attempt,
        )
    )
    record = outcome.opened.record
    view = StaffSignedInView(
        staff=StaffView.of(outcome.staff), session=SessionView.of(record, current_id=record.id)
    )
    if record.kind == SessionKind.COOKIE:
        view.csrf_token = STAFF_COOKIES.open(
            response, outcome.opened, keyring=ctx.keyring, settings=ctx.settings
        )
    else:
        view.token = outcome.opened.token
    return view


add_session_routes(
    router,
    SessionRoutes(
        context=staff_context, cookies=STAFF_COOKIES, who="staff member", prefix="staff_"
    ),
)


@router.get("/me", summary="The signed-in staff member and their permissions")
def staff_me(ctx: StaffCtx) -> StaffView:
    return StaffView.of(ctx.staff)


@router.put("/me/password", summary="Change one's own password (other sessions end)")
def staff_change_password(body: StaffPasswordChange, ctx: StaffCtx) -> StaffView:
    keeping = ctx.keeping_this_session
    updated = ctx.settle(
        lambda s: staff_service.change_staff_password(
            s, staff_id=ctx.staff.id, current_password=body.current_password,
            new_password=body.new_password, **keeping,
        )
    )  # fmt: skip
    return StaffView.of(updated)


# -- staff accounts ------------------------------------------------------------------------------
@router.get("/accounts", summary="Staff accounts")
def list_staff(ctx: StaffManagers) -> list[StaffView]:
    return [StaffView.of(s) for s in ctx.run(staff_service.list_staff)]


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
    ctx: StaffManagers,
) -> StaffCreated:
    password = _initial_password()
    created = ctx.run(
        lambda s: staff_service.create_staff(
            s,
            username=body.username,
            role=body.role,
            password=password,
            keyring=ctx.keyring,
            actor=ctx.actor,
            now=ctx.now,
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
    ctx: StaffManagers,
) -> StaffView:
    updated = ctx.run(
        lambda s: staff_service.update_staff(
            s, staff_id=staff_id, role=body.role, active=body.active, actor=ctx.actor, now=ctx.now
        )
    )
    return StaffView.of(updated)


# -- sellers -------------------------------------------------------------------------------------
@router.get("/sellers/{seller_id}", summary="A seller's profile (masked), tier and limits")
def get_seller(
    seller_id: Id,
    ctx: SellerReaders,
) -> SellerView:

    def work(session: Session) -> Seller:
        seller = session.get(Seller, seller_id)
        if seller is None:
            raise errors.SellerNotFound
        return seller

    return SellerView.of(ctx.run(work), ctx.keyring)


@router.get("/sellers/{seller_id}/limits", summary="A seller's limits, used and left")
def get_seller_limits(
    seller_id: Id,
    ctx: SellerReaders,
) -> LimitsView:
    statuses = ctx.run(lambda s: limits.limit_status(s, seller_id=seller_id, now=ctx.now))
    return LimitsView(tier=statuses[0].tier, flows=[FlowView.of(status) for status in statuses])


@router.get("/kyc-limits", summary="The limits table: tier × flow")
def kyc_limits(ctx: LimitReaders) -> list[LimitRowView]:
    rows = ctx.run(limits.all_limits)
    return [LimitRowView.model_validate(r, from_attributes=True) for r in rows]


# -- operation log -------------------------------------------------------------------------------
@router.get("/operation-log", summary="The operation log, newest first")
def operation_log(
    ctx: LogReaders,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Id | None = None,
    action: Annotated[Text | None, Query(max_length=64)] = None,
    actor_kind: Annotated[Text | None, Query(max_length=16)] = None,
    actor_id: Id | None = None,
) -> list[OperationLogView]:
    entries = ctx.run(
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
def list_partners(ctx: PartnerManagers) -> list[PartnerView]:
    return [PartnerView.of(p, k) for p, k in ctx.run(partners.list_partners)]


@router.post("/partners", status_code=201, summary="Create a partner")
def create_partner(
    body: PartnerCreate,
    ctx: PartnerManagers,
) -> PartnerView:
    partner = ctx.run(
        lambda s: partners.create_partner(s, name=body.name, actor=ctx.actor, now=ctx.now)
    )
    return PartnerView.of(partner, [])


@router.post(
    "/partners/{partner_id}/keys", status_code=201, summary="Issue an API key (shown once)"
)
def issue_key(
    partner_id: Id,
    body: ApiKeyCreate,
    ctx: PartnerManagers,
) -> ApiKeyIssued:
    issued = ctx.run(
        lambda s: partners.issue_api_key(
            s, partner_id=partner_id, scopes=body.scopes, actor=ctx.actor, now=ctx.now
        )
    )
    return ApiKeyIssued(key=issued.key, api_key=ApiKeyView.of(issued.record))


@router.post(
    "/partners/{partner_id}/keys/{key_id}/rotate",
    status_code=201,
    summary="Replace a key; the old one works for a grace period",
)
def rotate_key(partner_id: Id, key_id: KeyId, ctx: PartnerManagers) -> ApiKeyIssued:
    issued = _change_key(ctx, partners.rotate_api_key, partner_id, key_id)
    return ApiKeyIssued(key=issued.key, api_key=ApiKeyView.of(issued.record))


@router.delete("/partners/{partner_id}/keys/{key_id}", summary="Revoke a key at once")
def revoke_key(partner_id: Id, key_id: KeyId, ctx: PartnerManagers) -> ApiKeyView:
    return ApiKeyView.of(_change_key(ctx, partners.revoke_api_key, partner_id, key_id))


def _change_key(ctx: StaffContext, change: Callable[..., T], partner_id: int, key_id: str) -> T:
    """Run a change to one of the partner's keys (rotate, revoke) as the staff member."""
    return ctx.run(
        lambda s: change(s, partner_id=partner_id, key_id=key_id, actor=ctx.actor, now=ctx.now)
    )
