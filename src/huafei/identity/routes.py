"""Seller sign-in, sessions, profile, KYC and limits; the partner's own view; sandbox liveness."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from huafei.container import Container
from huafei.core.types import Id
from huafei.identity import limits
from huafei.identity.adapters import sandbox_selfie_token
from huafei.identity.deps import (
    SELLER_COOKIE,
    SELLER_CSRF_COOKIE,
    PartnerCaller,
    actor_for,
    current_partner_caller,
    current_seller,
    get_container,
    origin_of,
    raise_refused,
    session_context,
)
from huafei.identity.models import Seller
from huafei.identity.schemas import (
    CodeSent,
    FlowLimitsView,
    LimitsView,
    PartnerSelf,
    PasswordSignIn,
    RealNameVerification,
    SandboxLiveness,
    SelfieToken,
    SellerSignedIn,
    SellerView,
    ServicePasswordVerification,
    SessionView,
    SetPassword,
    SmsCodeRequest,
    SmsSignIn,
)
from huafei.identity.service import kyc, oplog, sessions, sign_in
from huafei.identity.service.sessions import SessionKind
from huafei.identity.validation import parse_mobile

router = APIRouter(prefix="/api/v1", tags=["sellers"])
partner_router = APIRouter(prefix="/api/v1/partner", tags=["partners"])
sandbox_router = APIRouter(prefix="/sandbox", tags=["sandboxes"])


def set_session_cookies(
    response: Response,
    container: Container,
    *,
    token: str,
    max_age: int,
    session_cookie: str,
    csrf_cookie: str,
) -> str:
    """Set the HttpOnly session cookie and the script-readable CSRF cookie; returns the CSRF."""
    secure = container.settings.env == "production"
    csrf = sessions.csrf_token_for(container.keyring, token)
    response.set_cookie(
        session_cookie, token, max_age=max_age, httponly=True, samesite="lax", secure=secure
    )
    response.set_cookie(
        csrf_cookie, csrf, max_age=max_age, httponly=False, samesite="strict", secure=secure
    )
    return csrf


def clear_session_cookies(response: Response, *, session_cookie: str, csrf_cookie: str) -> None:
    response.delete_cookie(session_cookie)
    response.delete_cookie(csrf_cookie)


def _signed_in(
    outcome: sign_in.SignedIn, response: Response, container: Container
) -> SellerSignedIn:
    record = outcome.opened.record
    view = SellerSignedIn(
        seller=SellerView.of(outcome.seller, container.keyring),
        session=SessionView.of(record, current_id=record.id),
        new_seller=outcome.new_seller,
    )
    if record.kind == SessionKind.COOKIE:
        max_age = int((record.expires_at - record.created_at).total_seconds())
        view.csrf_token = set_session_cookies(
            response,
            container,
            token=outcome.opened.token,
            max_age=max_age,
            session_cookie=SELLER_COOKIE,
            csrf_cookie=SELLER_CSRF_COOKIE,
        )
    else:
        view.token = outcome.opened.token
    return view


# -- sign-in -------------------------------------------------------------------------------------
@router.post(
    "/auth/sms-codes",
    status_code=202,
    summary="Text a 6-digit sign-in code (the same answer for new and known numbers)",
    responses={429: {}},
)
def request_sms_code(body: SmsCodeRequest, request: Request) -> CodeSent:
    container = get_container(request)
    number = parse_mobile(body.phone)
    origin = origin_of(request)
    now = container.clock.now()
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
    container.sms.send(issued.phone, issued.text)
    return CodeSent(
        expires_in_seconds=int((issued.expires_at - now).total_seconds()),
        resend_after_seconds=int((issued.resend_after - now).total_seconds()),
    )


@router.post(
    "/auth/sign-in/sms",
    summary="Sign in (or sign up) with the texted code",
    responses={401: {}, 429: {}},
)
def sign_in_with_sms(body: SmsSignIn, request: Request, response: Response) -> SellerSignedIn:
    container = get_container(request)
    number = parse_mobile(body.phone)
    origin = origin_of(request)
    now = container.clock.now()
    outcome = raise_refused(
        container.db.run(
            lambda s: sign_in.sign_in_with_code(
                s,
                number=number,
                code=body.code,
                kind=SessionKind(body.session),
                keyring=container.keyring,
                limiter=container.rate_limiter,
                origin=origin,
                now=now,
            )
        )
    )
    return _signed_in(outcome, response, container)


@router.post(
    "/auth/sign-in/password",
    summary="Sign in with the optional password",
    responses={401: {}, 429: {}},
)
def sign_in_with_password(
    body: PasswordSignIn, request: Request, response: Response
) -> SellerSignedIn:
    container = get_container(request)
    number = parse_mobile(body.phone)
    origin = origin_of(request)
    now = container.clock.now()
    outcome = raise_refused(
        container.db.run(
            lambda s: sign_in.sign_in_with_password(
                s,
                number=number,
                password=body.password,
                kind=SessionKind(body.session),
                keyring=container.keyring,
                limiter=container.rate_limiter,
                origin=origin,
                now=now,
            )
        )
    )
    return _signed_in(outcome, response, container)


# -- sessions ------------------------------------------------------------------------------------
@router.post("/auth/sign-out", status_code=204, summary="End this session")
def sign_out(request: Request, seller: Annotated[Seller, Depends(current_seller)]) -> Response:
    container = get_container(request)
    context = session_context(request)
    actor = actor_for(request)
    now = container.clock.now()

    container.db.run(
        lambda s: sessions.sign_out(
            s, actor, session_id=context.session_id, now=now, seller_id=seller.id
        )
    )
    response = Response(status_code=204)
    clear_session_cookies(response, session_cookie=SELLER_COOKIE, csrf_cookie=SELLER_CSRF_COOKIE)
    return response


@router.post(
    "/auth/sign-out-everywhere", status_code=204, summary="End every session of this seller"
)
def sign_out_everywhere(
    request: Request, seller: Annotated[Seller, Depends(current_seller)]
) -> Response:
    container = get_container(request)
    actor = actor_for(request)
    now = container.clock.now()

    container.db.run(lambda s: sessions.sign_out_everywhere(s, actor, now=now, seller_id=seller.id))
    response = Response(status_code=204)
    clear_session_cookies(response, session_cookie=SELLER_COOKIE, csrf_cookie=SELLER_CSRF_COOKIE)
    return response


@router.get("/auth/sessions", summary="This seller's live sessions")
def list_sessions(
    request: Request, seller: Annotated[Seller, Depends(current_seller)]
) -> list[SessionView]:
    container = get_container(request)
    context = session_context(request)
    now = container.clock.now()
    rows = container.db.run(lambda s: sessions.list_sessions(s, now=now, seller_id=seller.id))
    current_id = context.session_id
    return [SessionView.of(row, current_id=current_id) for row in rows]


@router.delete(
    "/auth/sessions/{session_id}", status_code=204, summary="End one of this seller's sessions"
)
def revoke_session(
    session_id: Id, request: Request, seller: Annotated[Seller, Depends(current_seller)]
) -> Response:
    container = get_container(request)
    actor = actor_for(request)
    now = container.clock.now()

    def work(session: Session) -> None:
        sessions.revoke_session(
            session, session_id=session_id, now=now, reason="revoked", seller_id=seller.id
        )
        oplog.record(
            session,
            actor,
            "auth.session.revoked",
            now=now,
            target=f"seller:{seller.id}",
            detail={"session_id": session_id},
        )

    container.db.run(work)
    return Response(status_code=204)


# -- profile -------------------------------------------------------------------------------------
@router.get("/me", summary="The signed-in seller (personal data masked)")
def me(request: Request, seller: Annotated[Seller, Depends(current_seller)]) -> SellerView:
    container = get_container(request)
    return SellerView.of(seller, container.keyring)


@router.put("/me/password", summary="Set or change the optional password")
def set_password(
    body: SetPassword, request: Request, seller: Annotated[Seller, Depends(current_seller)]
) -> SellerView:
    container = get_container(request)
    context = session_context(request)
    origin = origin_of(request)
    now = container.clock.now()
    updated = raise_refused(
        container.db.run(
            lambda s: sign_in.set_seller_password(
                s,
                seller_id=seller.id,
                new_password=body.new_password,
                current_password=body.current_password,
                keep_session_id=context.session_id,
                origin=origin,
                now=now,
            )
        )
    )
    return SellerView.of(updated, container.keyring)


@router.get("/me/limits", summary="Limits of the seller's tier, used and left")
def my_limits(request: Request, seller: Annotated[Seller, Depends(current_seller)]) -> LimitsView:
    container = get_container(request)
    now = container.clock.now()
    statuses = container.db.run(lambda s: limits.limit_status(s, seller_id=seller.id, now=now))
    return LimitsView(
        tier=statuses[0].tier if statuses else seller.tier,
        flows=[FlowLimitsView.of(status) for status in statuses],
    )


@router.post("/me/kyc/real-name", summary="Level 2: real name, ID number and a liveness selfie")
def verify_real_name(
    body: RealNameVerification, request: Request, seller: Annotated[Seller, Depends(current_seller)]
) -> SellerView:
    container = get_container(request)
    origin = origin_of(request)
    now = container.clock.now()
    claim = container.db.run(
        lambda s: kyc.prepare_real_name(
            s,
            seller_id=seller.id,
            real_name=body.real_name,
            id_number=body.id_number,
            keyring=container.keyring,
            now=now,
        )
    )
    result = container.identity_verifier.verify(claim.real_name, claim.id_number, body.selfie_token)
    updated = raise_refused(
        container.db.run(
            lambda s: kyc.complete_real_name(
                s, claim=claim, result=result, keyring=container.keyring, origin=origin, now=now
            )
        )
    )
    return SellerView.of(updated, container.keyring)


@router.post(
    "/me/kyc/service-password", summary="Level 3: the carrier service password of your number"
)
def verify_service_password(
    body: ServicePasswordVerification,
    request: Request,
    seller: Annotated[Seller, Depends(current_seller)],
) -> SellerView:
    container = get_container(request)
    origin = origin_of(request)
    now = container.clock.now()
    phone = container.db.run(
        lambda s: kyc.prepare_service_password(
            s, seller_id=seller.id, keyring=container.keyring, now=now
        )
    )
    matched = container.service_passwords.check(phone, body.service_password)
    updated = raise_refused(
        container.db.run(
            lambda s: kyc.complete_service_password(
                s,
                seller_id=seller.id,
                service_password=body.service_password,
                matched=matched,
                keyring=container.keyring,
                origin=origin,
                now=now,
            )
        )
    )
    return SellerView.of(updated, container.keyring)


# -- partners ------------------------------------------------------------------------------------
@partner_router.get("/me", summary="The partner and API key making the call")
def partner_me(caller: Annotated[PartnerCaller, Depends(current_partner_caller)]) -> PartnerSelf:
    return PartnerSelf(
        id=caller.partner.id,
        name=caller.partner.name,
        key_id=caller.key.key_id,
        scopes=sorted(caller.key.scope_set),
    )


# -- sandbox -------------------------------------------------------------------------------------
@sandbox_router.post(
    "/liveness", summary="A selfie token the sandbox verifier will pass or fail (sandbox only)"
)
def sandbox_liveness(body: SandboxLiveness) -> SelfieToken:
    return SelfieToken(selfie_token=sandbox_selfie_token(body.outcome))
