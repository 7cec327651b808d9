"""The numbers of identity and access: code lifetimes, caps, lockouts, session timeouts.

Documented in docs/identity.md; change them there and here together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

# -- SMS sign-in codes ---------------------------------------------------------------------------
SMS_CODE_DIGITS = 6
SMS_CODE_TTL = timedelta(minutes=5)
SMS_CODE_MAX_ATTEMPTS = 5
SMS_RESEND_AFTER = timedelta(seconds=60)
#: hourly caps on codes sent (``limits`` rules, counted in the shared rate-limit store)
SMS_PER_NUMBER_RULE = "5/hour"
SMS_PER_IP_RULE = "20/hour"
#: failed sign-in attempts of any kind from one address
SIGN_IN_FAILURES_PER_IP_RULE = "50/hour"

# -- passwords -----------------------------------------------------------------------------------
SELLER_PASSWORD_MIN_LENGTH = 8
STAFF_PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 128


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """``max_failures`` consecutive failures within ``window`` lock the action for ``lock_for``."""

    action: str
    max_failures: int
    window: timedelta
    lock_for: timedelta


#: wrong guesses of a live SMS code (a missing or expired code is no guess and counts only
#: against the address), so a stranger cannot keep a seller locked out
SELLER_SIGN_IN_LOCKOUT = LockoutPolicy(
    "seller_sign_in", 10, timedelta(minutes=15), timedelta(minutes=15)
)
#: wrong passwords lock password sign-in only: the seller can still sign in with a code
SELLER_PASSWORD_LOCKOUT = LockoutPolicy(
    "seller_password_sign_in", 10, timedelta(minutes=15), timedelta(minutes=15)
)
STAFF_SIGN_IN_LOCKOUT = LockoutPolicy(
    "staff_sign_in", 5, timedelta(minutes=15), timedelta(minutes=30)
)
REAL_NAME_LOCKOUT = LockoutPolicy(
    "real_name_verification", 5, timedelta(hours=24), timedelta(hours=24)
)
SERVICE_PASSWORD_LOCKOUT = LockoutPolicy(
    "service_password_check", 5, timedelta(hours=24), timedelta(hours=24)
)


# -- sessions ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle: timedelta
    """Ends after this long without a request."""
    absolute: timedelta
    """Ends this long after sign-in, however active."""


SESSION_POLICIES: dict[tuple[str, str], SessionPolicy] = {
    ("seller", "cookie"): SessionPolicy(timedelta(minutes=30), timedelta(hours=12)),
    ("seller", "bearer"): SessionPolicy(timedelta(days=7), timedelta(days=30)),
    ("staff", "cookie"): SessionPolicy(timedelta(minutes=15), timedelta(hours=8)),
    ("staff", "bearer"): SessionPolicy(timedelta(minutes=15), timedelta(hours=8)),
}
#: ``last_seen_at`` is written at most this often per session (a write per request is waste)
SESSION_TOUCH_EVERY = timedelta(seconds=60)

# -- partner API keys ----------------------------------------------------------------------------
API_KEY_ROTATION_GRACE = timedelta(hours=24)
API_KEY_TOUCH_EVERY = timedelta(seconds=60)
