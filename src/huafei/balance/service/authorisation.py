"""Step 1 and 2 of a balance sale: the seller's identity with the carrier, then the balance.

1. The number (the seller's own, verified at sign-in; the carrier guessed from its segment
   unless the seller names it — a ported number keeps its segment) and its service password go
   to that carrier alone, which texts a code to the number (``prepare_code`` → the carrier →
   ``complete_code``). A service password is never sent to a carrier the seller did not name
   or the segment did not say.
2. The code the carrier texted is confirmed with the carrier (``prepare_verify`` →
   ``complete_verify``): the authorisation is verified for ``AUTHORISATION_TTL``.
3. The balance is asked of the carrier with the stored service password (``prepare_query`` →
   ``record_balance``).

Each step runs in two units of work around the carrier call (no transaction waits on a
carrier). A wrong password, a wrong code or a number the carrier refuses counts towards the
pauses per seller and per number (identity's lockouts) and is returned as ``Refused``, so the
count commits with it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.balance import errors
from huafei.balance.models import AuthorisationState, BalanceAuthorisation
from huafei.balance.service.rules import AUTHORISATION_TTL, NUMBER_PAUSE, SELLER_PAUSE
from huafei.carriers import gateway
from huafei.carriers.gateway import Carrier, ChannelRefused, CodeSent
from huafei.core.clock import utc
from huafei.core.crypto import Keyring
from huafei.core.errors import HuafeiError
from huafei.identity.errors import Refused, SellerNotFound, locked_out
from huafei.identity.models import SERVICE_PASSWORD_CONTEXT, Seller, Tier
from huafei.identity.policy import LockoutPolicy
from huafei.identity.service import throttle
from huafei.identity.validation import mask_phone, parse_mobile

#: what each refusal of the carrier means to the seller, and whether it counts as a failure
_REFUSALS: dict[type[ChannelRefused], tuple[type[errors.BalanceError], bool]] = {
    gateway.WrongServicePassword: (errors.WrongServicePassword, True),
    gateway.UnknownNumber: (errors.UnknownNumber, True),
    gateway.NumberOfAnotherCarrier: (errors.NumberOfAnotherCarrier, True),
    gateway.WrongVerificationCode: (errors.WrongCode, True),
    gateway.VerificationCodeExpired: (errors.CodeExpired, False),
}


@dataclass(frozen=True, slots=True)
class CodeClaim:
    """A number checked and ready to be sent to its carrier (nothing written yet)."""

    seller_id: int
    owner_ref: str
    phone: str
    carrier: Carrier
    carrier_guessed: bool
    request_id: str


@dataclass(frozen=True, slots=True)
class CarrierCall:
    """What a later step needs to call the carrier for an authorisation."""

    authorisation_id: int
    phone: str
    carrier: Carrier
    code_request_id: str
    service_password: str


def carrier_error(refusal: ChannelRefused, **extra: object) -> HuafeiError:
    """The seller's error for a carrier's refusal (the refusal itself when it has none)."""
    mapped = _REFUSALS.get(type(refusal))
    if mapped is None:
        return refusal
    return mapped[0](None, **extra)


def prepare_code(
    session: Session,
    *,
    seller_id: int,
    phone: str,
    carrier: Carrier | None,
    keyring: Keyring,
    now: datetime,
) -> CodeClaim:
    """Check the seller (level 3), the number (theirs) and the pauses before the carrier is
    asked to text a code; the carrier is the one named, else the segment's."""
    seller = session.get(Seller, seller_id)
    if seller is None:
        raise SellerNotFound
    if seller.tier < Tier.L3:
        raise errors.KycLevelRequired(tier=seller.tier, required_tier=Tier.L3.value)
    number = parse_mobile(phone)
    if number.phone != seller.phone:
        raise errors.NumberNotYours(phone=mask_phone(number.phone))
    _ensure_not_paused(session, keyring, seller_id=seller.id, phone=number.phone, now=now)
    return CodeClaim(
        seller_id=seller.id,
        owner_ref=seller.ledger_owner_ref,
        phone=number.phone,
        carrier=carrier or number.carrier,
        carrier_guessed=carrier is None,
        request_id=f"hfc{uuid.uuid4().hex}",
    )


def complete_code(
    session: Session,
    *,
    claim: CodeClaim,
    service_password: str,
    answer: CodeSent | ChannelRefused,
    keyring: Keyring,
    now: datetime,
) -> BalanceAuthorisation | Refused:
    """Record the carrier's answer: an authorisation waiting for the code, or a refusal
    (counted towards the pauses when it is a wrong password or number)."""
    if isinstance(answer, ChannelRefused):
        return _refused(
            session,
            keyring,
            answer,
            seller_id=claim.seller_id,
            phone=claim.phone,
            now=now,
            carrier=claim.carrier.value,
            carrier_guessed=claim.carrier_guessed,
        )
    authorisation = BalanceAuthorisation(
        seller_id=claim.seller_id,
        owner_ref=claim.owner_ref,
        phone=claim.phone,
        carrier=claim.carrier.value,
        carrier_guessed=claim.carrier_guessed,
        service_password_enc=keyring.encrypt(service_password, context=SERVICE_PASSWORD_CONTEXT),
        code_request_id=claim.request_id,
        state=AuthorisationState.CODE_SENT.value,
        expires_at=answer.expires_at,
        created_at=now,
        updated_at=now,
    )
    session.add(authorisation)
    session.flush()
    return authorisation


def prepare_verify(
    session: Session, *, authorisation_id: int, owner_ref: str, keyring: Keyring, now: datetime
) -> CarrierCall | BalanceAuthorisation:
    """The carrier call that confirms the code; the authorisation itself when it is verified
    already (a repeated request)."""
    authorisation = owned(session, authorisation_id, owner_ref=owner_ref)
    if authorisation.state != AuthorisationState.CODE_SENT.value:
        return live(authorisation, now=now)
    if utc(authorisation.expires_at) <= now:
        raise errors.CodeExpired
    _ensure_not_paused(
        session, keyring, seller_id=authorisation.seller_id, phone=authorisation.phone, now=now
    )
    return _call(authorisation, keyring)


def complete_verify(
    session: Session,
    *,
    authorisation_id: int,
    answer: ChannelRefused | None,
    keyring: Keyring,
    now: datetime,
) -> BalanceAuthorisation | Refused:
    """Record the carrier's verdict on the code: verified for ``AUTHORISATION_TTL``, or a
    refusal (a wrong code counts towards the pauses)."""
    authorisation = _locked(session, authorisation_id)
    if answer is not None:
        return _refused(
            session, keyring, answer, seller_id=authorisation.seller_id, phone=authorisation.phone,
            now=now,
        )  # fmt: skip
    if authorisation.state == AuthorisationState.CODE_SENT.value:
        authorisation.state = AuthorisationState.VERIFIED.value
        authorisation.verified_at = now
        authorisation.expires_at = now + AUTHORISATION_TTL
        authorisation.updated_at = now
        for policy, identifier in _pauses(authorisation.seller_id, authorisation.phone):
            throttle.clear_failures(session, throttle.throttle_key(keyring, policy, identifier))
        session.flush()
    return authorisation


def prepare_query(
    session: Session, *, authorisation_id: int, owner_ref: str, keyring: Keyring, now: datetime
) -> CarrierCall:
    """The carrier call that asks a verified authorisation's balance."""
    authorisation = live(owned(session, authorisation_id, owner_ref=owner_ref), now=now)
    return _call(authorisation, keyring)


def record_balance(
    session: Session, *, authorisation_id: int, balance_fen: int, now: datetime
) -> BalanceAuthorisation:
    """Keep the balance the carrier answered (the amount is checked against it)."""
    authorisation = _locked(session, authorisation_id)
    authorisation.balance_fen = balance_fen
    authorisation.balance_at = now
    authorisation.updated_at = now
    session.flush()
    return authorisation


# -- reading ---------------------------------------------------------------------------------------
def owned(session: Session, authorisation_id: int, *, owner_ref: str) -> BalanceAuthorisation:
    """The owner's authorisation; ``AuthorisationNotFound`` otherwise."""
    authorisation = session.get(BalanceAuthorisation, authorisation_id)
    if authorisation is None or authorisation.owner_ref != owner_ref:
        raise errors.AuthorisationNotFound(authorisation_id=authorisation_id)
    return authorisation


def live(authorisation: BalanceAuthorisation, *, now: datetime) -> BalanceAuthorisation:
    """The authorisation while it is verified and not expired (or used); its typed error
    otherwise."""
    if authorisation.state == AuthorisationState.USED.value:
        raise errors.AuthorisationUsed(authorisation_id=authorisation.id)
    if authorisation.state != AuthorisationState.VERIFIED.value:
        raise errors.AuthorisationNotVerified(authorisation_id=authorisation.id)
    if utc(authorisation.expires_at) <= now or authorisation.service_password_enc is None:
        raise errors.AuthorisationExpired(authorisation_id=authorisation.id)
    return authorisation


def service_password(keyring: Keyring, authorisation: BalanceAuthorisation) -> str:
    """The authorisation's service password, decrypted (in memory only, on its way to the
    carrier)."""
    if authorisation.service_password_enc is None:
        raise errors.AuthorisationExpired(authorisation_id=authorisation.id)
    return keyring.decrypt(authorisation.service_password_enc, context=SERVICE_PASSWORD_CONTEXT)


# -- inside ----------------------------------------------------------------------------------------
def _call(authorisation: BalanceAuthorisation, keyring: Keyring) -> CarrierCall:
    return CarrierCall(
        authorisation_id=authorisation.id,
        phone=authorisation.phone,
        carrier=Carrier(authorisation.carrier),
        code_request_id=authorisation.code_request_id,
        service_password=service_password(keyring, authorisation),
    )


def _locked(session: Session, authorisation_id: int) -> BalanceAuthorisation:
    return session.scalars(
        select(BalanceAuthorisation)
        .where(BalanceAuthorisation.id == authorisation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _pauses(seller_id: int, phone: str) -> tuple[tuple[LockoutPolicy, str], ...]:
    return ((SELLER_PAUSE, str(seller_id)), (NUMBER_PAUSE, phone))


def _ensure_not_paused(
    session: Session, keyring: Keyring, *, seller_id: int, phone: str, now: datetime
) -> None:
    for policy, identifier in _pauses(seller_id, phone):
        key = throttle.throttle_key(keyring, policy, identifier)
        lock = throttle.lock_error(session, key, policy, now=now)
        if lock is not None:
            raise lock


def _refused(
    session: Session,
    keyring: Keyring,
    refusal: ChannelRefused,
    *,
    seller_id: int,
    phone: str,
    now: datetime,
    **extra: object,
) -> Refused:
    """The seller's error for the carrier's refusal; a counted one registers a failure per
    seller and per number, and the pause it may start is the answer."""
    error = carrier_error(refusal, **extra)
    counted = _REFUSALS.get(type(refusal), (None, False))[1]
    if not counted:
        return Refused(error)
    pauses = _pauses(seller_id, phone)
    counts = [
        throttle.register_failure(
            session, throttle.throttle_key(keyring, policy, identifier), policy, now=now
        )
        for policy, identifier in pauses
    ]
    for (policy, _), (_, locked_until) in zip(pauses, counts, strict=True):
        if locked_until is not None:
            return Refused(locked_out(policy.action, locked_until, now))
    error.extra["attempts_left"] = min(left for left, _ in counts)
    return Refused(error)
