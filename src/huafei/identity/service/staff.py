"""Staff accounts: username + argon2 password + TOTP, a role, sessions; every action logged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.core.crypto import Keyring
from huafei.core.ratelimit import RateLimiter
from huafei.identity import errors
from huafei.identity.errors import Refused
from huafei.identity.models import TOTP_SECRET_CONTEXT, Staff, StaffRole
from huafei.identity.passwords import (
    hash_password,
    match_totp,
    new_totp_secret,
    provisioning_uri,
    verify_password,
)
from huafei.identity.policy import STAFF_PASSWORD_MIN_LENGTH, STAFF_SIGN_IN_LOCKOUT
from huafei.identity.service import oplog, sessions
from huafei.identity.service.credentials import SignInAttempt, change_password
from huafei.identity.service.oplog import Actor, ActorKind, Origin
from huafei.identity.validation import check_password, parse_username


@dataclass(frozen=True, slots=True)
class CreatedStaff:
    """A new staff account and its TOTP secret (with its provisioning URI)."""

    staff: Staff
    totp_secret: str
    """Shown once, to be put in an authenticator app."""
    provisioning_uri: str


@dataclass(frozen=True, slots=True)
class StaffSignedIn:
    """A staff member signed in, with the new session."""

    staff: Staff
    opened: sessions.OpenedSession


def staff_actor(staff: Staff, origin: Origin) -> Actor:
    """The staff member as the operation log records it."""
    return Actor(ActorKind.STAFF, staff.username, staff.id, origin)


def parse_role(role: str) -> StaffRole:
    """A role by name; ``UnknownRole`` for any other."""
    try:
        return StaffRole(role)
    except ValueError:
        raise errors.UnknownRole(
            f"Role must be one of {', '.join(r.value for r in StaffRole)}.", role=role
        ) from None


def get_staff(session: Session, staff_id: int) -> Staff:
    """A staff account by id; ``StaffNotFound`` when there is none."""
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise errors.StaffNotFound
    return staff


def list_staff(session: Session) -> list[Staff]:
    """Every staff account, oldest first."""
    return list(session.scalars(select(Staff).order_by(Staff.id)))


def create_staff(
    session: Session,
    *,
    username: str,
    role: str,
    password: str,
    keyring: Keyring,
    actor: Actor,
    now: datetime,
) -> CreatedStaff:
    """A new active staff account with a fresh TOTP secret; refused for a taken username, an
    unknown role or a short password. Logged."""
    name = parse_username(username)
    parsed_role = parse_role(role)
    check_password(password, min_length=STAFF_PASSWORD_MIN_LENGTH)
    if session.scalars(select(Staff.id).where(Staff.username == name)).first() is not None:
        raise errors.UsernameTaken
    secret = new_totp_secret()
    staff = Staff(
        username=name,
        role=parsed_role.value,
        password_hash=hash_password(password),
        totp_secret_enc=keyring.encrypt(secret, context=TOTP_SECRET_CONTEXT),
        active=True,
        created_at=now,
        updated_at=now,
    )
    session.add(staff)
    session.flush()
    oplog.record(
        session,
        actor,
        "staff.account.created",
        now=now,
        target=f"staff:{staff.id}",
        detail={"username": staff.username, "role": staff.role},
    )
    return CreatedStaff(staff, secret, provisioning_uri(secret, staff.username))


def update_staff(
    session: Session,
    *,
    staff_id: int,
    role: str | None,
    active: bool | None,
    actor: Actor,
    now: datetime,
) -> Staff:
    """Change a role or (de)activate; deactivation ends the account's sessions."""
    staff = get_staff(session, staff_id)
    if actor.kind is ActorKind.STAFF and actor.id == staff.id:
        raise errors.CannotChangeOwnAccount
    changes: dict[str, object] = {}
    new_role = parse_role(role).value if role is not None else staff.role
    if new_role != staff.role:
        changes["role"] = [staff.role, new_role]
        staff.role = new_role
    if active is not None and active != staff.active:
        changes["active"] = [staff.active, active]
        staff.active = active
        if not active:
            sessions.revoke_all(session, now=now, reason="account_disabled", staff_id=staff.id)
    staff.updated_at = now
    oplog.record(
        session,
        actor,
        "staff.account.updated",
        now=now,
        target=f"staff:{staff.id}",
        detail=changes,
    )
    session.flush()
    return staff


def sign_in_staff(
    session: Session,
    *,
    username: str,
    password: str,
    totp_code: str,
    kind: sessions.SessionKind,
    keyring: Keyring,
    limiter: RateLimiter,
    origin: Origin,
    now: datetime,
) -> StaffSignedIn | Refused:
    """Password and TOTP together; any wrong part answers the same ``invalid_credentials``."""
    name = (username or "").strip().lower()[:64]
    attempt = SignInAttempt(
        session,
        STAFF_SIGN_IN_LOCKOUT,
        name,
        principal="staff",
        keyring=keyring,
        limiter=limiter,
        origin=origin,
    )
    refused = attempt.refused(now)
    if refused is not None:
        return refused
    staff = session.scalars(select(Staff).where(Staff.username == name)).one_or_none()
    password_ok = verify_password(staff.password_hash if staff else None, password)
    step = None
    if staff is not None and password_ok and staff.active:
        secret = keyring.decrypt(staff.totp_secret_enc, context=TOTP_SECRET_CONTEXT)
        step = match_totp(secret, totp_code or "", now=now, last_step=staff.totp_last_step)
    if staff is None or step is None:
        reason = "bad_password" if not password_ok else "inactive"
        if staff is not None and password_ok and staff.active:
            reason = "bad_totp"
        target = f"staff:{staff.id}" if staff else None
        return attempt.fail(errors.InvalidCredentials(), reason, target=target, guess=True, now=now)
    staff.totp_last_step = step
    actor = staff_actor(staff, origin)
    opened = attempt.succeed(actor, "password_totp", kind=kind, now=now, staff_id=staff.id)
    return StaffSignedIn(staff=staff, opened=opened)


def change_staff_password(
    session: Session,
    *,
    staff_id: int,
    current_password: str,
    new_password: str,
    keep_session_id: int | None,
    origin: Origin,
    now: datetime,
) -> Staff | Refused:
    """Change the staff member's password (the current one is asked for); other sessions are
    signed out."""
    check_password(new_password, min_length=STAFF_PASSWORD_MIN_LENGTH)
    staff = get_staff(session, staff_id)
    actor = staff_actor(staff, origin)
    refused = change_password(
        session, staff, actor, new_password, current_password, keep_session_id, now=now
    )
    return refused if refused is not None else staff
