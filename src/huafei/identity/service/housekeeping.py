"""Dropping what no longer matters: dead SMS codes, lapsed lockouts, long-ended sessions.

Runs as a periodic job (``identity.purge_expired``). The operation log keeps the history of
every sign-in; these rows only serve the live checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_
from sqlalchemy.orm import Session

from huafei.identity.models import AuthSession, AuthThrottle, SmsCode
from huafei.identity.policy import SMS_RESEND_AFTER

#: SMS codes are kept a day after they lapse (support can see that a code was sent)
SMS_CODES_KEPT = timedelta(days=1)
#: ended sessions stay listed for support and disputes for 90 days
SESSIONS_KEPT = timedelta(days=90)
#: a lockout row is useless once its lock and its longest failure window have passed
THROTTLES_KEPT = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class Purged:
    """How many rows a purge removed, by table."""

    sms_codes: int
    sessions: int
    throttles: int


def purge_expired(session: Session, *, now: datetime) -> Purged:
    """Delete the SMS codes, sessions and lockout counters that can no longer matter."""
    codes = session.execute(
        delete(SmsCode).where(SmsCode.expires_at < now - max(SMS_CODES_KEPT, SMS_RESEND_AFTER))
    )
    sessions = session.execute(
        delete(AuthSession).where(
            or_(
                AuthSession.expires_at < now - SESSIONS_KEPT,
                and_(
                    AuthSession.revoked_at.is_not(None),
                    AuthSession.revoked_at < now - SESSIONS_KEPT,
                ),
            )
        )
    )
    throttles = session.execute(
        delete(AuthThrottle).where(
            AuthThrottle.updated_at < now - THROTTLES_KEPT,
            or_(AuthThrottle.locked_until.is_(None), AuthThrottle.locked_until < now),
        )
    )
    return Purged(
        sms_codes=int(codes.rowcount),  # type: ignore[attr-defined]
        sessions=int(sessions.rowcount),  # type: ignore[attr-defined]
        throttles=int(throttles.rowcount),  # type: ignore[attr-defined]
    )
