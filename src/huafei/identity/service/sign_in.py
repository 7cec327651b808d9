"""Seller sign-in: SMS codes (sign-up happens on the first good code), optional passwords.

Answers never depend on whether a number is registered: a code is sent to any valid number,
and a password sign-in fails the same way for an unknown number, a seller without a password
and a wrong password.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from huafei.core.clock import utc
from huafei.core.crypto import Keyring
from huafei.core.ratelimit import RateLimiter
from huafei.identity import errors
from huafei.identity.errors import Refused
from huafei.identity.models import Seller, SmsCode, SmsCodeStatus, Tier
from huafei.identity.passwords import verify_password
from huafei.identity.policy import (
    SELLER_PASSWORD_LOCKOUT,
    SELLER_PASSWORD_MIN_LENGTH,
    SELLER_SIGN_IN_LOCKOUT,
    SMS_CODE_DIGITS,
    SMS_CODE_MAX_ATTEMPTS,
    SMS_CODE_TTL,
    SMS_PER_IP_RULE,
    SMS_PER_NUMBER_RULE,
    SMS_RESEND_AFTER,
    LockoutPolicy,
)
from huafei.identity.service import oplog, sessions
from huafei.identity.service.credentials import SignInAttempt, change_password, limiter_key
from huafei.identity.service.oplog import Actor, ActorKind, Origin
from huafei.identity.validation import MobileNumber, check_password, mask_phone

SMS_TEMPLATE = "【话费回收】验证码 {code}，{minutes} 分钟内有效。如非本人操作，请忽略本短信。"


@dataclass(frozen=True, slots=True)
class CodeIssued:
    """A code on its way to the SMS sender, and when it expires and may be asked for again."""

    phone: str
    code: str
    """Only in memory, on its way to the SMS sender."""
    expires_at: datetime
    resend_after: datetime

    @property
    def text(self) -> str:
        """The SMS text carrying the code."""
        return SMS_TEMPLATE.format(code=self.code, minutes=int(SMS_CODE_TTL.total_seconds() // 60))


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A seller signed in: the seller, the new session, and whether it signed up now."""

    seller: Seller
    opened: sessions.OpenedSession
    new_seller: bool


def seller_actor(seller: Seller, origin: Origin) -> Actor:
    """The seller as the operation log records it (the phone number masked)."""
    return Actor(ActorKind.SELLER, mask_phone(seller.phone), seller.id, origin)


def _code_hash(keyring: Keyring, phone: str, code: str) -> str:
    return keyring.lookup_hash("sms-code", phone, code)


def _phone(number: MobileNumber) -> str:
    """The number as the operation log names a target (masked)."""
    return f"phone:{number.masked}"


SIGN_IN_PURPOSE = "sign_in"


def issue_sign_in_code(
    session: Session,
    *,
    number: MobileNumber,
    keyring: Keyring,
    limiter: RateLimiter,
    origin: Origin,
    now: datetime,
    purpose: str = SIGN_IN_PURPOSE,
) -> CodeIssued | Refused:
    """A new 6-digit code for ``number`` and ``purpose`` (older live ones stop working)."""
    _refuse_early_resend(session, number=number, purpose=purpose, now=now)
    refused = _sms_rate_limited(session, limiter, keyring, number, origin, now)
    if refused is not None:
        return refused
    session.execute(
        update(SmsCode)
        .where(
            SmsCode.phone == number.phone,
            SmsCode.purpose == purpose,
            SmsCode.status == SmsCodeStatus.LIVE.value,
        )
        .values(status=SmsCodeStatus.SUPERSEDED.value)
        .execution_options(synchronize_session=False)
    )
    code = f"{secrets.randbelow(10**SMS_CODE_DIGITS):0{SMS_CODE_DIGITS}d}"
    session.add(
        SmsCode(
            phone=number.phone,
            purpose=purpose,
            code_hash=_code_hash(keyring, number.phone, code),
            status=SmsCodeStatus.LIVE.value,
            attempts=0,
            created_at=now,
            expires_at=now + SMS_CODE_TTL,
        )
    )
    actor = Actor.anonymous(origin)
    oplog.record(session, actor, "auth.sms_code.sent", now=now, target=_phone(number))
    return CodeIssued(
        phone=number.phone,
        code=code,
        expires_at=now + SMS_CODE_TTL,
        resend_after=now + SMS_RESEND_AFTER,
    )


def _refuse_early_resend(
    session: Session, *, number: MobileNumber, purpose: str, now: datetime
) -> None:
    """Raise ``SmsResendTooSoon`` when the last code for the number was sent a moment ago."""
    latest = session.scalars(
        select(SmsCode)
        .where(SmsCode.phone == number.phone, SmsCode.purpose == purpose)
        .order_by(SmsCode.id.desc())
        .limit(1)
    ).one_or_none()
    if latest is not None and utc(latest.created_at) + SMS_RESEND_AFTER > now:
        wait = utc(latest.created_at) + SMS_RESEND_AFTER - now
        seconds = max(1, int(wait.total_seconds() + 0.999))
        raise errors.SmsResendTooSoon(
            f"A code was sent less than a minute ago; ask again in {seconds} s.",
            retry_after_seconds=seconds,
        )


def _sms_rate_limited(
    session: Session,
    limiter: RateLimiter,
    keyring: Keyring,
    number: MobileNumber,
    origin: Origin,
    now: datetime,
) -> Refused | None:
    """Count the code against the number's and the address's caps; the refusal of one that is
    full (logged), or None."""
    for scope, rule, value in (
        ("number", SMS_PER_NUMBER_RULE, number.phone),
        ("ip", SMS_PER_IP_RULE, origin.ip or "unknown"),
    ):
        decision = limiter.hit(rule, f"sms_{scope}", limiter_key(keyring, scope, value))
        if not decision.allowed:
            oplog.record(
                session,
                Actor.anonymous(origin),
                "auth.sms_code.rate_limited",
                now=now,
                target=_phone(number),
                outcome="refused",
                detail={"cap": scope},
            )
            return Refused(
                errors.SmsRateLimited(
                    f"Too many codes requested for this {scope}; "
                    f"try again in {decision.retry_after_seconds} s.",
                    scope=scope,
                    retry_after_seconds=decision.retry_after_seconds,
                )
            )
    return None


def _live_code(session: Session, phone: str, purpose: str) -> SmsCode | None:
    return session.scalars(
        select(SmsCode)
        .where(
            SmsCode.phone == phone,
            SmsCode.purpose == purpose,
            SmsCode.status == SmsCodeStatus.LIVE.value,
        )
        .order_by(SmsCode.id.desc())
        .limit(1)
        .with_for_update()
    ).one_or_none()


def confirm_action_code(
    session: Session,
    *,
    phone: str,
    purpose: str,
    code: str,
    keyring: Keyring,
    now: datetime,
) -> Refused | None:
    """Check a code sent to confirm an action (``purpose``): None when right (the code is used
    up), else the refusal — returned, not raised, so the wrong try is counted when the caller
    commits. Five wrong tries exhaust the code."""
    failure = _check_code(_live_code(session, phone, purpose), keyring, phone, code, now=now)
    return Refused(failure.error) if failure is not None else None


@dataclass(frozen=True, slots=True)
class _CodeFailure:
    error: errors.IdentityError
    reason: str
    guess: bool
    """A wrong guess at a live code (the others cannot be guessed)."""


def _check_code(
    live: SmsCode | None, keyring: Keyring, phone: str, code: str, *, now: datetime
) -> _CodeFailure | None:
    """None when ``code`` is the live code's (it is used up now), else why not; a wrong try is
    counted, and the last one allowed exhausts the code."""
    if live is None:
        return _CodeFailure(errors.SmsCodeNotRequested(), "no_code", guess=False)
    if utc(live.expires_at) <= now:
        return _CodeFailure(errors.SmsCodeExpired(), "expired", guess=False)
    if not secrets.compare_digest(live.code_hash, _code_hash(keyring, phone, code.strip())):
        live.attempts += 1
        left = SMS_CODE_MAX_ATTEMPTS - live.attempts
        if left <= 0:
            live.status = SmsCodeStatus.EXHAUSTED.value
            return _CodeFailure(errors.SmsCodeAttemptsExhausted(), "attempts_exhausted", guess=True)
        return _CodeFailure(
            errors.SmsCodeWrong(f"The code is not right; {left} tries left.", attempts_left=left),
            "wrong_code",
            guess=True,
        )
    live.status = SmsCodeStatus.USED.value
    live.used_at = now
    return None


def sign_in_with_code(
    session: Session,
    *,
    number: MobileNumber,
    code: str,
    kind: sessions.SessionKind,
    keyring: Keyring,
    limiter: RateLimiter,
    origin: Origin,
    now: datetime,
) -> SignedIn | Refused:
    """Check the code; the first good code for a new number signs the seller up (tier 1)."""
    attempt = _attempt(
        session, number, SELLER_SIGN_IN_LOCKOUT, keyring=keyring, limiter=limiter, origin=origin
    )
    refused = attempt.refused(now)
    if refused is not None:
        return refused
    failure = _check_code(
        _live_code(session, number.phone, SIGN_IN_PURPOSE), keyring, number.phone, code, now=now
    )
    if failure is not None:
        # Only a wrong guess at a live code counts towards the number's lockout: a code that
        # was never sent, was used or has expired cannot be guessed, and counting it would let
        # anyone keep the seller locked out without a single code being sent.
        return attempt.fail(
            failure.error, failure.reason, target=_phone(number), guess=failure.guess, now=now
        )
    seller, new_seller = _seller_of(session, number, origin=origin, now=now)
    return _signed_in(attempt, seller, "sms_code", kind=kind, new_seller=new_seller, now=now)


def _seller_of(
    session: Session, number: MobileNumber, *, origin: Origin, now: datetime
) -> tuple[Seller, bool]:
    """The number's seller, signed up now (tier 1) when new; and whether it is new."""
    seller = session.scalars(select(Seller).where(Seller.phone == number.phone)).one_or_none()
    if seller is not None:
        return seller, False
    seller = Seller(
        phone=number.phone,
        carrier=number.carrier.value,
        tier=Tier.L1.value,
        created_at=now,
        updated_at=now,
    )
    session.add(seller)
    session.flush()
    oplog.record(
        session,
        seller_actor(seller, origin),
        "seller.signed_up",
        now=now,
        target=f"seller:{seller.id}",
        detail={"carrier": seller.carrier},
    )
    return seller, True


def sign_in_with_password(
    session: Session,
    *,
    number: MobileNumber,
    password: str,
    kind: sessions.SessionKind,
    keyring: Keyring,
    limiter: RateLimiter,
    origin: Origin,
    now: datetime,
) -> SignedIn | Refused:
    """Sign in with the optional password; an unknown number, no password and a wrong one
    fail alike, and count towards the password lockout."""
    # Its own lockout: wrong passwords lock password sign-in, never sign-in by code.
    attempt = _attempt(
        session, number, SELLER_PASSWORD_LOCKOUT, keyring=keyring, limiter=limiter, origin=origin
    )
    refused = attempt.refused(now)
    if refused is not None:
        return refused
    seller = session.scalars(select(Seller).where(Seller.phone == number.phone)).one_or_none()
    stored = seller.password_hash if seller is not None else None
    if seller is None or not verify_password(stored, password):
        return attempt.fail(
            errors.InvalidCredentials(), "bad_password", target=_phone(number), guess=True, now=now
        )
    return _signed_in(attempt, seller, "password", kind=kind, new_seller=False, now=now)


def _attempt(
    session: Session,
    number: MobileNumber,
    policy: LockoutPolicy,
    *,
    keyring: Keyring,
    limiter: RateLimiter,
    origin: Origin,
) -> SignInAttempt:
    """A seller's sign-in with ``number`` under ``policy``."""
    return SignInAttempt(
        session,
        policy,
        number.phone,
        principal="seller",
        keyring=keyring,
        limiter=limiter,
        origin=origin,
    )


def _signed_in(
    attempt: SignInAttempt,
    seller: Seller,
    method: str,
    *,
    kind: sessions.SessionKind,
    new_seller: bool,
    now: datetime,
) -> SignedIn:
    """The seller's sign-in succeeded: the new session."""
    actor = seller_actor(seller, attempt.origin)
    opened = attempt.succeed(actor, method, kind=kind, now=now, seller_id=seller.id)
    return SignedIn(seller=seller, opened=opened, new_seller=new_seller)


def set_seller_password(
    session: Session,
    *,
    seller_id: int,
    new_password: str,
    current_password: str | None,
    keep_session_id: int | None,
    origin: Origin,
    now: datetime,
) -> Seller | Refused:
    """Set or change the optional password; other sessions are signed out."""
    check_password(new_password, min_length=SELLER_PASSWORD_MIN_LENGTH)
    seller = session.get(Seller, seller_id)
    if seller is None:
        raise errors.SellerNotFound
    actor = seller_actor(seller, origin)
    refused = change_password(
        session, seller, actor, new_password, current_password, keep_session_id, now=now
    )
    return refused if refused is not None else seller
