"""Sessions: cookie sessions for browsers, bearer tokens for API clients, one table for both.

A token is 32 random bytes; the table keeps its SHA-256 only. A session ends when idle for its
idle timeout, at its absolute end, on sign-out, or when revoked (sign-out everywhere, a password
change, a staff account disabled). The CSRF token of a cookie session is an HMAC of the session
token: nothing to store, and useless without the session cookie it belongs to.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypedDict, Unpack

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from huafei.core.clock import utc
from huafei.core.crypto import Keyring
from huafei.identity.errors import NotAuthenticated, SessionExpired, SessionNotFound
from huafei.identity.models import AuthSession
from huafei.identity.policy import SESSION_POLICIES, SESSION_TOUCH_EVERY, SessionPolicy
from huafei.identity.service import oplog
from huafei.identity.service.oplog import Actor, Origin

TOKEN_PREFIX = "hfs_"  # noqa: S105 - a prefix that makes leaked tokens recognisable


class SessionKind(enum.StrEnum):
    """How the client holds its session."""

    COOKIE = "cookie"
    """A browser: HttpOnly cookie plus a CSRF token for unsafe methods."""
    BEARER = "bearer"
    """An API client: ``Authorization: Bearer <token>``."""


class Owner(TypedDict, total=False):
    """Whose sessions: a seller's (``seller_id``) or a staff member's (``staff_id``)."""

    seller_id: int | None
    staff_id: int | None


def owner_target(owner: Owner) -> str:
    """The owner as the operation log names a target: ``seller:7`` or ``staff:3``."""
    seller_id = owner.get("seller_id")
    return f"seller:{seller_id}" if seller_id is not None else f"staff:{owner.get('staff_id')}"


@dataclass(frozen=True, slots=True)
class OpenedSession:
    """A new session: its stored record and the token for the client."""

    record: AuthSession
    token: str
    """Given to the client once; never stored."""


def hash_token(token: str) -> str:
    """What is stored of a session token (its SHA-256)."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token_for(keyring: Keyring, token: str) -> str:
    """The CSRF token that goes with a cookie session's token."""
    return keyring.lookup_hash("csrf", token)


def csrf_matches(keyring: Keyring, token: str, presented: str | None) -> bool:
    """Whether ``presented`` is the CSRF token of the session ``token``."""
    return presented is not None and hmac.compare_digest(csrf_token_for(keyring, token), presented)


def policy_for(principal: str, kind: str) -> SessionPolicy:
    """The idle and absolute timeouts of a principal's session of ``kind``."""
    return SESSION_POLICIES[(principal, kind)]


def open_session(
    session: Session, *, kind: SessionKind, origin: Origin, now: datetime, **owner: Unpack[Owner]
) -> OpenedSession:
    """A new session for the seller or the staff member, with its policy's timeouts."""
    principal = "seller" if owner.get("seller_id") is not None else "staff"
    policy = policy_for(principal, kind.value)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = AuthSession(
        token_hash=hash_token(token),
        seller_id=owner.get("seller_id"),
        staff_id=owner.get("staff_id"),
        kind=kind.value,
        created_at=now,
        last_seen_at=now,
        idle_timeout_seconds=int(policy.idle.total_seconds()),
        expires_at=now + policy.absolute,
        ip=origin.ip[:45] if origin.ip else None,
        user_agent=origin.user_agent[:200] if origin.user_agent else None,
    )
    session.add(record)
    session.flush()
    return OpenedSession(record=record, token=token)


def idle_expires_at(record: AuthSession) -> datetime:
    """When the session ends if it is not used again."""
    return utc(record.last_seen_at) + timedelta(seconds=record.idle_timeout_seconds)


def is_active(record: AuthSession, now: datetime) -> bool:
    """Not revoked, and neither its absolute nor its idle timeout has passed."""
    return (
        record.revoked_at is None and now < utc(record.expires_at) and now < idle_expires_at(record)
    )


def resolve_session(
    session: Session, token: str, *, now: datetime, touch: bool = True
) -> AuthSession:
    """The live session of ``token`` (its idle clock restarted unless ``touch`` is False);
    else ``NotAuthenticated``/``SessionExpired``."""
    record = session.scalars(
        select(AuthSession).where(AuthSession.token_hash == hash_token(token))
    ).one_or_none()
    if record is None:
        raise NotAuthenticated("The session or token is not known; sign in again.")
    if not is_active(record, now):
        raise SessionExpired
    if touch:
        touch_session(session, record, now=now)
    return record


def touch_session(session: Session, record: AuthSession, *, now: datetime) -> None:
    """Restart the idle clock (written at most once a minute)."""
    if now - utc(record.last_seen_at) >= SESSION_TOUCH_EVERY:
        record.last_seen_at = now
        session.flush()


def list_sessions(session: Session, *, now: datetime, **owner: Unpack[Owner]) -> list[AuthSession]:
    """The principal's live sessions, newest first."""
    query = select(AuthSession).where(AuthSession.revoked_at.is_(None))
    if (seller_id := owner.get("seller_id")) is not None:
        query = query.where(AuthSession.seller_id == seller_id)
    else:
        query = query.where(AuthSession.staff_id == owner.get("staff_id"))
    rows = session.scalars(query.order_by(AuthSession.id.desc()))
    return [row for row in rows if is_active(row, now)]


def revoke_session(
    session: Session, *, session_id: int, now: datetime, reason: str, **owner: Unpack[Owner]
) -> AuthSession:
    """End one session of the principal (someone else's id is answered like an unknown one)."""
    record = session.get(AuthSession, session_id)
    seller_id, staff_id = owner.get("seller_id"), owner.get("staff_id")
    owner_matches = record is not None and (
        (seller_id is not None and record.seller_id == seller_id)
        or (staff_id is not None and record.staff_id == staff_id)
    )
    if record is None or not owner_matches or record.revoked_at is not None:
        raise SessionNotFound
    record.revoked_at = now
    record.revoked_reason = reason
    session.flush()
    return record


def revoke_all(
    session: Session,
    *,
    now: datetime,
    reason: str,
    except_session_id: int | None = None,
    **owner: Unpack[Owner],
) -> int:
    """End every session of the principal (but one, when given); returns how many."""
    query = update(AuthSession).where(AuthSession.revoked_at.is_(None))
    if (seller_id := owner.get("seller_id")) is not None:
        query = query.where(AuthSession.seller_id == seller_id)
    elif (staff_id := owner.get("staff_id")) is not None:
        query = query.where(AuthSession.staff_id == staff_id)
    else:
        raise ValueError("revoke_all needs a seller_id or a staff_id")
    if except_session_id is not None:
        query = query.where(AuthSession.id != except_session_id)
    result = session.execute(
        query.values(revoked_at=now, revoked_reason=reason).execution_options(
            synchronize_session=False
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def sign_out(
    session: Session, actor: Actor, *, session_id: int, now: datetime, **owner: Unpack[Owner]
) -> None:
    """End the caller's current session and log it (sellers and staff alike)."""
    _end_logged(session, actor, session_id, "sign_out", "auth.sign_out", now=now, owner=owner)


def end_session(
    session: Session, actor: Actor, *, session_id: int, now: datetime, **owner: Unpack[Owner]
) -> None:
    """End one of the caller's sessions from the session list, and log it."""
    _end_logged(session, actor, session_id, "revoked", "auth.session.revoked", now=now, owner=owner)


def _end_logged(
    session: Session,
    actor: Actor,
    session_id: int,
    reason: str,
    action: str,
    *,
    now: datetime,
    owner: Owner,
) -> None:
    """End one session of the owner for ``reason`` and log it as ``action``."""
    revoke_session(session, session_id=session_id, now=now, reason=reason, **owner)
    oplog.record(
        session,
        actor,
        action,
        now=now,
        target=owner_target(owner),
        detail={"session_id": session_id},
    )


def sign_out_everywhere(
    session: Session, actor: Actor, *, now: datetime, **owner: Unpack[Owner]
) -> int:
    """End every session of the caller and log it; returns how many ended."""
    ended = revoke_all(session, now=now, reason="sign_out_everywhere", **owner)
    oplog.record(
        session,
        actor,
        "auth.sign_out_everywhere",
        now=now,
        target=owner_target(owner),
        detail={"sessions_ended": ended},
    )
    return ended
