"""What sellers' and staff members' credentials share: a sign-in attempt under a lockout policy
and the per-address cap on failures, and a password change that ends the other sessions."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from typing import Literal, Unpack

from sqlalchemy.orm import Session

from huafei.core.crypto import Keyring
from huafei.core.ratelimit import RateLimiter
from huafei.identity import errors
from huafei.identity.errors import Refused
from huafei.identity.models import Seller, Staff
from huafei.identity.passwords import hash_password, verify_password
from huafei.identity.policy import SIGN_IN_FAILURES_PER_IP_RULE, LockoutPolicy
from huafei.identity.service import oplog, sessions, throttle
from huafei.identity.service.oplog import Actor, Origin
from huafei.identity.service.sessions import Owner


def limiter_key(keyring: Keyring, kind: str, value: str) -> str:
    """The rate limiter's key of a number or an address (a keyed hash, never the value)."""
    return keyring.lookup_hash("ratelimit", kind, value)[:32]


def ip_refusal(limiter: RateLimiter, keyring: Keyring, origin: Origin) -> Refused | None:
    """The refusal while the address has failed to sign in too often, else None."""
    decision = limiter.check(
        SIGN_IN_FAILURES_PER_IP_RULE, "sign_in_ip", limiter_key(keyring, "ip", origin.ip or "?")
    )
    if decision.allowed:
        return None
    return Refused(
        errors.TooManyRequests(
            f"Too many failed sign-ins from this address; try again in "
            f"{decision.retry_after_seconds} s.",
            retry_after_seconds=decision.retry_after_seconds,
        )
    )


def count_ip_failure(limiter: RateLimiter, keyring: Keyring, origin: Origin) -> None:
    """Count a failed sign-in against the address."""
    limiter.hit(
        SIGN_IN_FAILURES_PER_IP_RULE, "sign_in_ip", limiter_key(keyring, "ip", origin.ip or "?")
    )


@dataclass
class SignInAttempt:
    """A sign-in under a lockout policy for one identifier (a number, a username): refused while
    the address or the identifier is locked out; a failure logged and counted; a success opens
    the session and is logged."""

    session: Session
    policy: LockoutPolicy
    identifier: str
    _: KW_ONLY
    principal: Literal["seller", "staff"]
    keyring: Keyring
    limiter: RateLimiter
    origin: Origin
    key: str = field(init=False)
    """The identifier's lockout counter (a keyed hash)."""

    def __post_init__(self) -> None:
        self.key = throttle.throttle_key(self.keyring, self.policy, self.identifier)

    def refused(self, now: datetime) -> Refused | None:
        """The refusal while the address or the identifier is locked out, else None."""
        refused = ip_refusal(self.limiter, self.keyring, self.origin)
        if refused is not None:
            return refused
        lock = throttle.lock_error(self.session, self.key, self.policy, now=now)
        return Refused(lock) if lock is not None else None

    def fail(
        self,
        error: errors.IdentityError,
        reason: str,
        *,
        target: str | None,
        guess: bool,
        now: datetime,
    ) -> Refused:
        """Log the failure and count it against the address; against the identifier's lockout
        only for a ``guess`` (one that could have been right). The refusal is ``error``, or the
        lockout this failure started."""
        count_ip_failure(self.limiter, self.keyring, self.origin)
        locked_until = None
        if guess:
            _, locked_until = throttle.register_failure(
                self.session, self.key, self.policy, now=now
            )
        oplog.record(
            self.session,
            Actor.anonymous(self.origin),
            "auth.sign_in.failed",
            now=now,
            target=target,
            outcome="refused",
            detail={
                "principal": self.principal,
                "reason": reason,
                "locked": locked_until is not None,
            },
        )
        if locked_until is not None:
            return Refused(errors.locked_out(self.policy.action, locked_until, now))
        return Refused(error)

    def succeed(
        self,
        actor: Actor,
        method: str,
        *,
        kind: sessions.SessionKind,
        now: datetime,
        **owner: Unpack[Owner],
    ) -> sessions.OpenedSession:
        """Forget the identifier's failures, open the session and log the sign-in."""
        throttle.clear_failures(self.session, self.key)
        opened = sessions.open_session(
            self.session, kind=kind, origin=self.origin, now=now, **owner
        )
        oplog.record(
            self.session,
            actor,
            "auth.sign_in.succeeded",
            now=now,
            target=sessions.owner_target(owner),
            detail={"method": method, "session_id": opened.record.id, "kind": kind.value},
        )
        return opened


def change_password(
    session: Session,
    account: Seller | Staff,
    actor: Actor,
    new_password: str,
    current_password: str | None,
    keep_session_id: int | None,
    *,
    now: datetime,
) -> Refused | None:
    """Set the account's password if it has none, else change it when ``current_password`` is
    right; the account's other sessions (all but ``keep_session_id``) end. Logged either way;
    the refusal, or None."""
    principal = "seller" if isinstance(account, Seller) else "staff"
    target = f"{principal}:{account.id}"
    had_password = account.password_hash is not None
    if had_password and not verify_password(account.password_hash, current_password or ""):
        oplog.record(
            session,
            actor,
            f"{principal}.password.failed",
            now=now,
            target=target,
            outcome="refused",
        )
        return Refused(errors.CurrentPasswordWrong())
    account.password_hash = hash_password(new_password)
    account.updated_at = now
    owner: Owner = {"seller_id": account.id} if principal == "seller" else {"staff_id": account.id}
    ended = sessions.revoke_all(
        session, now=now, reason="password_changed", except_session_id=keep_session_id, **owner
    )
    oplog.record(
        session,
        actor,
        f"{principal}.password.{'changed' if had_password else 'set'}",
        now=now,
        target=target,
        detail={"other_sessions_ended": ended},
    )
    session.flush()
    return None
