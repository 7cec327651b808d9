"""KYC: L1 → L2 (real name + ID number + liveness) → L3 (carrier service password).

Each step runs in two units of work around the external call, so no transaction waits on a
provider: ``prepare_*`` validates and refuses early (writing nothing), the edge calls the
adapter, ``complete_*`` records the outcome — a failed check is committed too, because failures
count towards the lockout and go in the operation log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.core.crypto import Keyring
from huafei.identity import errors
from huafei.identity.adapters import VerificationResult
from huafei.identity.errors import Refused
from huafei.identity.models import (
    ID_NUMBER_CONTEXT,
    REAL_NAME_CONTEXT,
    SERVICE_PASSWORD_CONTEXT,
    Seller,
    Tier,
)
from huafei.identity.policy import REAL_NAME_LOCKOUT, SERVICE_PASSWORD_LOCKOUT, LockoutPolicy
from huafei.identity.service import oplog, throttle
from huafei.identity.service.oplog import Actor, Origin
from huafei.identity.service.sign_in import seller_actor
from huafei.identity.validation import parse_id_number, parse_real_name


@dataclass(frozen=True, slots=True)
class RealNameClaim:
    """The real name and ID number a seller claims, to be verified (L2)."""

    seller_id: int
    real_name: str
    id_number: str


def id_number_hash(keyring: Keyring, id_number: str) -> str:
    """The keyed hash that makes an ID number unique among sellers without storing it plain."""
    return keyring.lookup_hash("id-number", id_number)


def _seller(session: Session, seller_id: int, *, for_update: bool = False) -> Seller:
    query = select(Seller).where(Seller.id == seller_id)
    if for_update:
        query = query.with_for_update()
    seller = session.scalars(query.execution_options(populate_existing=True)).one_or_none()
    if seller is None:
        raise errors.SellerNotFound
    return seller


@dataclass(frozen=True, slots=True)
class _Step:
    """A KYC step: the tier it gives, its lockout and its name in the operation log."""

    tier: Tier
    lockout: LockoutPolicy
    action: str
    done: str
    """The answer once the seller has the tier."""

    def ensure_open(self, seller: Seller) -> None:
        """Raise ``KycAlreadyDone`` when the seller has the tier already."""
        if seller.tier >= self.tier:
            raise errors.KycAlreadyDone(self.done, tier=seller.tier)

    def key(self, keyring: Keyring, seller_id: int) -> str:
        return throttle.throttle_key(keyring, self.lockout, str(seller_id))

    def ensure_not_locked(
        self, session: Session, keyring: Keyring, seller_id: int, now: datetime
    ) -> None:
        lock = throttle.lock_error(session, self.key(keyring, seller_id), self.lockout, now=now)
        if lock is not None:
            raise lock

    def refuse(
        self,
        session: Session,
        keyring: Keyring,
        seller: Seller,
        actor: Actor,
        error_for: Callable[[int], errors.IdentityError],
        *,
        now: datetime,
        detail: dict[str, Any] | None = None,
    ) -> Refused:
        """Count a failed check towards the lockout and log it; the refusal: the lockout this
        failure started, else ``error_for(tries left)``."""
        key = self.key(keyring, seller.id)
        left, locked_until = throttle.register_failure(session, key, self.lockout, now=now)
        oplog.record(
            session,
            actor,
            f"{self.action}.failed",
            now=now,
            target=f"seller:{seller.id}",
            outcome="refused",
            detail=detail,
        )
        if locked_until is not None:
            return Refused(errors.locked_out(self.lockout.action, locked_until, now))
        return Refused(error_for(left))

    def grant(
        self,
        session: Session,
        keyring: Keyring,
        seller: Seller,
        actor: Actor,
        *,
        now: datetime,
        detail: dict[str, Any],
    ) -> Seller:
        """The seller passed the check: the step's tier, its failures forgotten, logged."""
        seller.tier = self.tier.value
        seller.updated_at = now
        throttle.clear_failures(session, self.key(keyring, seller.id))
        oplog.record(
            session,
            actor,
            f"{self.action}.verified",
            now=now,
            target=f"seller:{seller.id}",
            detail={"tier": seller.tier} | detail,
        )
        session.flush()
        return seller


REAL_NAME = _Step(
    Tier.L2, REAL_NAME_LOCKOUT, "kyc.real_name", "Your real name is already verified."
)
SERVICE_PASSWORD = _Step(
    Tier.L3,
    SERVICE_PASSWORD_LOCKOUT,
    "kyc.service_password",
    "Your service password is already verified.",
)


def _id_taken(session: Session, id_hash: str, seller_id: int) -> bool:
    other = session.scalars(
        select(Seller.id).where(Seller.id_number_hash == id_hash, Seller.id != seller_id)
    ).first()
    return other is not None


# -- L2 ------------------------------------------------------------------------------------------
def prepare_real_name(
    session: Session,
    *,
    seller_id: int,
    real_name: str,
    id_number: str,
    keyring: Keyring,
    now: datetime,
) -> RealNameClaim:
    """Validate the claim before anyone is asked: tier, name, ID number, age, duplicates."""
    REAL_NAME.ensure_open(_seller(session, seller_id))
    name = parse_real_name(real_name)
    number = parse_id_number(id_number, now=now)
    REAL_NAME.ensure_not_locked(session, keyring, seller_id, now)
    if _id_taken(session, id_number_hash(keyring, number.value), seller_id):
        raise errors.IdNumberInUse
    return RealNameClaim(seller_id=seller_id, real_name=name, id_number=number.value)


def complete_real_name(
    session: Session,
    *,
    claim: RealNameClaim,
    result: VerificationResult,
    keyring: Keyring,
    origin: Origin,
    now: datetime,
) -> Seller | Refused:
    """Record the provider's answer: L2 on success, a counted failure otherwise."""
    seller = _seller(session, claim.seller_id, for_update=True)
    actor = seller_actor(seller, origin)
    REAL_NAME.ensure_open(seller)
    failure: errors.IdentityError | None = None
    if not result.name_matches_id:
        failure = errors.RealNameMismatch()
    elif not result.liveness_passed:
        failure = errors.LivenessFailed()
    if failure is not None:
        error_for = partial(_tries_left, failure)
        failed = {"reason": failure.code, "reference": result.reference}
        return REAL_NAME.refuse(session, keyring, seller, actor, error_for, now=now, detail=failed)
    id_hash = id_number_hash(keyring, claim.id_number)
    if _id_taken(session, id_hash, seller.id):
        raise errors.IdNumberInUse
    seller.real_name_enc = keyring.encrypt(claim.real_name, context=REAL_NAME_CONTEXT)
    seller.id_number_enc = keyring.encrypt(claim.id_number, context=ID_NUMBER_CONTEXT)
    seller.id_number_hash = id_hash
    seller.verification_ref = result.reference
    seller.l2_verified_at = now
    detail = {"reference": result.reference}
    return REAL_NAME.grant(session, keyring, seller, actor, now=now, detail=detail)


# -- L3 ------------------------------------------------------------------------------------------
def prepare_service_password(
    session: Session, *, seller_id: int, keyring: Keyring, now: datetime
) -> str:
    """The phone number to check the service password of (the seller's own)."""
    seller = _seller(session, seller_id)
    SERVICE_PASSWORD.ensure_open(seller)
    if seller.tier < Tier.L2:
        raise errors.KycTierRequired(
            "Verify your real name (level 2) before the service password.",
            tier=seller.tier,
            required_tier=Tier.L2.value,
        )
    SERVICE_PASSWORD.ensure_not_locked(session, keyring, seller_id, now)
    return seller.phone


def complete_service_password(
    session: Session,
    *,
    seller_id: int,
    service_password: str,
    matched: bool,
    keyring: Keyring,
    origin: Origin,
    now: datetime,
) -> Seller | Refused:
    """Record the carrier's answer on the seller's service password: a match verifies the
    seller (L3); a mismatch counts towards the lockout and is returned as the refusal."""
    seller = _seller(session, seller_id, for_update=True)
    actor = seller_actor(seller, origin)
    SERVICE_PASSWORD.ensure_open(seller)
    if not matched:
        return SERVICE_PASSWORD.refuse(
            session, keyring, seller, actor, _service_password_wrong, now=now
        )
    seller.service_password_enc = keyring.encrypt(
        service_password, context=SERVICE_PASSWORD_CONTEXT
    )
    seller.l3_verified_at = now
    return SERVICE_PASSWORD.grant(session, keyring, seller, actor, now=now, detail={})


def _tries_left(error: errors.IdentityError, left: int) -> errors.IdentityError:
    error.extra["attempts_left"] = left
    return error


def _service_password_wrong(left: int) -> errors.IdentityError:
    return errors.ServicePasswordWrong(
        f"The carrier says this is not the service password of your number; {left} tries left.",
        attempts_left=left,
    )
