"""Vouchers for the seller and for anyone holding one: ask for one when a record becomes
final, read one's own, verify one by its number and check code.

Issuing (the worker's part) is in ``issuing``; the PDF in ``pdf``; docs/vouchers.md describes
the document and the decisions.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from huafei.core.crypto import Keyring
from huafei.core.deferred import defer_insert
from huafei.core.ratelimit import RateLimiter
from huafei.vouchers import errors
from huafei.vouchers.issuing import sha256_hex
from huafei.vouchers.models import Voucher, VoucherRequest
from huafei.vouchers.schemas import VoucherDocument

_REQUESTS: Table = VoucherRequest.__table__  # type: ignore[assignment]

#: every verification from one address (a person checks a few vouchers, not hundreds)
VERIFY_RULE = "60/hour"
#: wrong number or code from one address: guessing stops long before it could find one
VERIFY_FAILURES_RULE = "10/hour"
_SEPARATORS = re.compile(r"[\s\-]+")


def request_voucher(session: Session, subject: str, subject_id: int, *, now: datetime) -> None:
    """Ask for the voucher of a record that just became final, in the caller's transaction:
    if it rolls back, no voucher is asked for; once it commits, a worker issues it. Written at
    commit in one statement with the unit of work's other requests."""
    defer_insert(
        session,
        _REQUESTS,
        {
            "subject": subject,
            "subject_id": subject_id,
            "requested_at": now,
            "due_at": now,
            "attempts": 0,
            "last_error": None,
        },
    )


@dataclass(frozen=True, slots=True)
class IssuedVoucher:
    """A stored voucher with its document, read back and checked against its hash."""

    voucher: Voucher
    computed_sha256: str

    @property
    def intact(self) -> bool:
        """Whether the stored document still has the SHA-256 it was issued with."""
        return hmac.compare_digest(self.computed_sha256, self.voucher.sha256)

    @property
    def document(self) -> VoucherDocument | None:
        """The document as issued, or None when the stored bytes no longer match the hash."""
        if not self.intact:
            return None
        return VoucherDocument.model_validate_json(self.voucher.body)


@dataclass(frozen=True, slots=True)
class OwnedVoucher:
    """The owner's voucher and its document, checked against the hash."""

    voucher: Voucher
    document: VoucherDocument


def _checked(voucher: Voucher) -> IssuedVoucher:
    return IssuedVoucher(voucher, sha256_hex(voucher.body))


def owned_voucher(
    session: Session, subject: str, subject_id: int, *, owner_ref: str
) -> OwnedVoucher:
    """The owner's voucher of a record, intact; ``VoucherNotFound`` when there is none (yet) or
    the record is someone else's, ``VoucherTampered`` when its bytes no longer match."""
    voucher = session.scalars(
        select(Voucher).where(Voucher.subject == subject, Voucher.subject_id == subject_id)
    ).one_or_none()
    if voucher is None or voucher.owner_ref != owner_ref:
        raise errors.VoucherNotFound(f"no voucher for this {subject} (yet)")
    document = _checked(voucher).document
    if document is None:
        raise errors.VoucherTampered(f"voucher {voucher.number} does not match its hash")
    return OwnedVoucher(voucher, document)


def voucher_of(
    session: Session, subject: str, subject_id: int, *, owner_ref: str
) -> Voucher | None:
    """The owner's voucher of a record, if issued (for a page's download links)."""
    voucher = session.scalars(
        select(Voucher).where(Voucher.subject == subject, Voucher.subject_id == subject_id)
    ).one_or_none()
    return voucher if voucher is not None and voucher.owner_ref == owner_ref else None


def with_vouchers(
    session: Session, subject: str, subject_ids: list[int], *, owner_ref: str
) -> set[int]:
    """Which of the owner's records have their voucher (for a list's download links)."""
    if not subject_ids:
        return set()
    return set(
        session.scalars(
            select(Voucher.subject_id).where(
                Voucher.subject == subject,
                Voucher.subject_id.in_(subject_ids),
                Voucher.owner_ref == owner_ref,
            )
        )
    )


def normalise(text: str) -> str:
    """A number or check code as typed (spaces, dashes, lower case) in its stored form."""
    return _SEPARATORS.sub("", text).upper()


def verify(
    session: Session,
    *,
    number: str,
    check_code: str,
    limiter: RateLimiter,
    keyring: Keyring,
    client_ip: str,
) -> IssuedVoucher:
    """The voucher with this number and check code, checked against its hash (``intact``).

    Every lookup counts against the address's hourly cap and every miss against a smaller
    one (``TooManyVerifications`` once full), so numbers cannot be enumerated; a wrong number
    and a wrong code are the same ``VoucherNotFound``."""
    key = keyring.lookup_hash("ratelimit", "voucher-verify", client_ip or "unknown")[:32]
    failures = limiter.check(VERIFY_FAILURES_RULE, "voucher_verify_failed", key)
    decision = limiter.hit(VERIFY_RULE, "voucher_verify", key) if failures.allowed else failures
    if not decision.allowed:
        raise errors.TooManyVerifications(
            f"Too many voucher checks from this address; try again in "
            f"{decision.retry_after_seconds} s.",
            retry_after_seconds=decision.retry_after_seconds,
        )
    voucher = session.scalars(
        select(Voucher).where(Voucher.number == normalise(number))
    ).one_or_none()
    if voucher is None or not hmac.compare_digest(
        voucher.check_code.encode(), normalise(check_code).encode()
    ):
        limiter.hit(VERIFY_FAILURES_RULE, "voucher_verify_failed", key)
        raise errors.VoucherNotFound("no voucher with this number and check code")
    return _checked(voucher)
