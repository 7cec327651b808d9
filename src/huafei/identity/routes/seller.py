"""Seller sign-in, sessions, profile, KYC and limits; the partner's own view; sandbox liveness."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Response

from huafei.identity import limits
from huafei.identity.adapters import sandbox_selfie_token
from huafei.identity.cookies import SELLER_COOKIES
from huafei.identity.deps import (
    CallContext,
    Ctx,
    PartnerCtx,
    SellerCtx,
    ServicePasswords,
    Verifier,
    seller_context,
)
from huafei.identity.errors import Refused
from huafei.identity.routes.sessions import SessionRoutes, add_session_routes
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
from huafei.identity.service import kyc, sign_in
from huafei.identity.service.sessions import SessionKind
from huafei.identity.validation import parse_mobile
from huafei.sms.deps import Sms

router = APIRouter(prefix="/api/v1", tags=["sellers"])
partner_router = APIRouter(prefix="/api/v1/partner", tags=["partners"])
sandbox_router = APIRouter(prefix="/sandbox", tags=["sandboxes"])


def _sign_in(
    ctx: CallContext,
    response: Response,
    body: SmsSignIn | PasswordSignIn,
    sign_in_with: Callable[..., sign_in.SignedIn | Refused],
    **secret: str,
) -> SellerSignedIn:
    """Sign in with ``body``'s number and ``secret`` (the code or the password); the seller and
    the new session (its cookies set, or its bearer token in the answer)."""
    number = parse_mobile(body.phone)
    kind = SessionKind(body.session)
    outcome = ctx.settle(
        lambda s: sign_in_with(s, number=number, kind=kind, **secret, **ctx.attempt)
    )
    record = outcome.opened.record
    view = SellerSignedIn(
        seller=SellerView.of(outcome.seller, ctx.keyring),
        session=SessionView.of(record, current_id=record.id),
        new_seller=outcome.new_seller,
    )
    if record.kind == SessionKind.COOKIE:
        view.csrf_token = SELLER_COOKIES.open(
            response, outcome.opened, keyring=ctx.keyring, settings=ctx.settings
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
def request_sms_code(body: SmsCodeRequest, ctx: Ctx, sms: Sms) -> CodeSent:
    number = parse_mobile(body.phone)
    now = ctx.now
    issued = ctx.settle(lambda s: sign_in.issue_sign_in_code(s, number=number, **ctx.attempt))
    sms.send(issued.phone, issued.text)
    return CodeSent(
        expires_in_seconds=int((issued.expires_at - now).total_seconds()),
        resend_after_seconds=int((issued.resend_after - now).total_seconds()),
    )


@router.post(
    "/auth/sign-in/sms",
    summary="Sign in (or sign up) with the texted code",
    responses={401: {}, 429: {}},
)
def sign_in_with_sms(body: SmsSignIn, ctx: Ctx, response: Response) -> SellerSignedIn:
    return _sign_in(ctx, response, body, sign_in.sign_in_with_code, code=body.code)


@router.post(
    "/auth/sign-in/password",
    summary="Sign in with the optional password",
    responses={401: {}, 429: {}},
)
def sign_in_with_password(body: PasswordSignIn, ctx: Ctx, response: Response) -> SellerSignedIn:
    return _sign_in(ctx, response, body, sign_in.sign_in_with_password, password=body.password)


# -- sessions ------------------------------------------------------------------------------------
add_session_routes(
    router,
    SessionRoutes(context=seller_context, cookies=SELLER_COOKIES, who="seller", revoke_one=True),
)


# -- profile -------------------------------------------------------------------------------------
@router.get("/me", summary="The signed-in seller (personal data masked)")
def me(ctx: SellerCtx) -> SellerView:
    return SellerView.of(ctx.seller, ctx.keyring)


@router.put("/me/password", summary="Set or change the optional password")
def set_password(body: SetPassword, ctx: SellerCtx) -> SellerView:
    keeping = ctx.keeping_this_session
    updated = ctx.settle(
        lambda s: sign_in.set_seller_password(
            s, seller_id=ctx.seller.id, new_password=body.new_password,
            current_password=body.current_password, **keeping,
        )
    )  # fmt: skip
    return SellerView.of(updated, ctx.keyring)


@router.get("/me/limits", summary="Limits of the seller's tier, used and left")
def my_limits(ctx: SellerCtx) -> LimitsView:
    seller = ctx.seller
    statuses = ctx.run(lambda s: limits.limit_status(s, seller_id=seller.id, now=ctx.now))
    return LimitsView(
        tier=statuses[0].tier if statuses else seller.tier,
        flows=[FlowLimitsView.of(status) for status in statuses],
    )


@router.post("/me/kyc/real-name", summary="Level 2: real name, ID number and a liveness selfie")
def verify_real_name(body: RealNameVerification, ctx: SellerCtx, verifier: Verifier) -> SellerView:
    claim = ctx.run(
        lambda s: kyc.prepare_real_name(
            s,
            seller_id=ctx.seller.id,
            real_name=body.real_name,
            id_number=body.id_number,
            keyring=ctx.keyring,
            now=ctx.now,
        )
    )
    result = verifier.verify(claim.real_name, claim.id_number, body.selfie_token)
    updated = ctx.settle(
        lambda s: kyc.complete_real_name(
            s, claim=claim, result=result, keyring=ctx.keyring, origin=ctx.origin, now=ctx.now
        )
    )
    return SellerView.of(updated, ctx.keyring)


@router.post(
    "/me/kyc/service-password", summary="Level 3: the carrier service password of your number"
)
def verify_service_password(
    body: ServicePasswordVerification, ctx: SellerCtx, checker: ServicePasswords
) -> SellerView:
    phone = ctx.run(
        lambda s: kyc.prepare_service_password(
            s, seller_id=ctx.seller.id, keyring=ctx.keyring, now=ctx.now
        )
    )
    matched = checker.check(phone, body.service_password)
    updated = ctx.settle(
        lambda s: kyc.complete_service_password(
            s,
            seller_id=ctx.seller.id,
            service_password=body.service_password,
            matched=matched,
            keyring=ctx.keyring,
            origin=ctx.origin,
            now=ctx.now,
        )
    )
    return SellerView.of(updated, ctx.keyring)


# -- partners ------------------------------------------------------------------------------------
@partner_router.get("/me", summary="The partner and API key making the call")
def partner_me(ctx: PartnerCtx) -> PartnerSelf:
    caller = ctx.caller
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
