"""Lockouts: consecutive failures of an action for one identifier lock it for a while.

Kept in the database on the application clock, so every process agrees and tests can move
time. The key is a keyed hash of (action, identifier): an unknown username or number locks
exactly like a known one, so the answers never reveal which accounts exist.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.core.clock import utc
from huafei.core.crypto import Keyring
from huafei.core.db import insert_ignoring_conflicts
from huafei.identity.errors import LockedOut, locked_out
from huafei.identity.models import AuthThrottle
from huafei.identity.policy import LockoutPolicy


def throttle_key(keyring: Keyring, policy: LockoutPolicy, identifier: str) -> str:
    """The key of an identifier's lockout counter for the policy's action (a keyed hash)."""
    return keyring.lookup_hash("throttle", policy.action, identifier)


def lock_error(
    session: Session, key: str, policy: LockoutPolicy, *, now: datetime
) -> LockedOut | None:
    """The error to answer with while the action is locked for this key, else ``None``."""
    row = session.get(AuthThrottle, key)
    if row is not None and row.locked_until is not None and utc(row.locked_until) > now:
        return locked_out(policy.action, utc(row.locked_until), now)
    return None


def register_failure(
    session: Session, key: str, policy: LockoutPolicy, *, now: datetime
) -> tuple[int, datetime | None]:
    """Count a failure; returns (failures left before the lock, the lock's end if now locked)."""
    insert_ignoring_conflicts(
        session,
        AuthThrottle.__table__,
        [
            {
                "key": key,
                "action": policy.action,
                "failures": 0,
                "window_started_at": now,
                "locked_until": None,
                "updated_at": now,
            }
        ],
    )
    row = session.scalars(
        select(AuthThrottle)
        .where(AuthThrottle.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    lock_ended = row.locked_until is not None and utc(row.locked_until) <= now
    if lock_ended or utc(row.window_started_at) + policy.window <= now:
        row.failures = 0
        row.window_started_at = now
        row.locked_until = None
    row.failures += 1
    row.updated_at = now
    locked_until = None
    if row.failures >= policy.max_failures:
        locked_until = now + policy.lock_for
        row.locked_until = locked_until
    session.flush()
    return max(0, policy.max_failures - row.failures), locked_until


def clear_failures(session: Session, key: str) -> None:
    """Forget the key's failures (after a success)."""
    row = session.get(AuthThrottle, key)
    if row is not None:
        session.delete(row)
        session.flush()
