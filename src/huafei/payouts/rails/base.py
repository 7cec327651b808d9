"""The contract every payout rail implements (real rails and the sandboxes alike).

A payout is asynchronous: ``submit`` answers at once whether the rail accepted it; the result
arrives later as a signed callback to ``POST /callbacks/rails/{rail}`` and can be asked for with
``query``. The rail is idempotent on ``payout_id``: submitting it again returns the first answer
and never pays twice.

Wire format (both directions):

* requests to the rail and callbacks from it are signed with the platform's one scheme
  (``core.signing``, docs/signing.md): ``X-Rail-Timestamp`` (unix seconds) and
  ``X-Rail-Signature`` = hex HMAC-SHA256 over ``f"{timestamp}.{raw body}"`` under the rail's
  shared secret; a timestamp outside the window (default 300 s) is refused;
* callback body: JSON ``{"notification_id", "payout_id", "rail_ref", "status", "amount_fen",
  "code", "reason", "finished_at"}``; the platform answers ``200`` and the plain body ``SUCCESS``
  once it has durably recorded the notification (a duplicate is answered the same way).
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, Protocol

from huafei.core.errors import HuafeiError
from huafei.core.keyed_settings import parse_keyed_secrets
from huafei.core.signing import SigningScheme
from huafei.payouts.models import RailName

TIMESTAMP_HEADER = "X-Rail-Timestamp"
SIGNATURE_HEADER = "X-Rail-Signature"


class PayoutStatus(enum.StrEnum):
    PROCESSING = "processing"
    """Accepted, no result yet."""
    SUCCEEDED = "succeeded"
    """Paid into the account."""
    FAILED = "failed"
    """Refused or failed; ``code`` and ``reason`` say why (nothing was paid)."""
    UNKNOWN = "unknown"
    """The rail has never heard of this payout id."""

    @property
    def final(self) -> bool:
        return self in (PayoutStatus.SUCCEEDED, PayoutStatus.FAILED)


@dataclass(frozen=True, slots=True)
class PayoutOrder:
    payout_id: str
    amount_fen: int
    currency: str
    account_no: str
    account_name: str
    notify_url: str
    bank_code: str | None = None
    memo: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class PayoutAck:
    accepted: bool
    rail_ref: str | None = None
    code: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class PayoutResult:
    payout_id: str
    status: PayoutStatus
    rail_ref: str | None = None
    amount_fen: int | None = None
    code: str | None = None
    reason: str | None = None
    notification_id: str | None = None
    finished_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PayoutResult:
        finished = data.get("finished_at")
        amount = data.get("amount_fen")
        return cls(
            payout_id=str(data["payout_id"]),
            status=PayoutStatus(data["status"]),
            rail_ref=data.get("rail_ref"),
            amount_fen=int(amount) if amount is not None else None,
            code=data.get("code"),
            reason=data.get("reason"),
            notification_id=data.get("notification_id"),
            finished_at=datetime.fromisoformat(finished) if finished else None,
        )


class RailError(HuafeiError):
    code = "payout_rail_error"
    status = 502
    title = "The payout rail failed"


class RailTimeout(RailError):
    """The request may or may not have reached the rail: query before sending again."""

    code = "payout_rail_timeout"
    status = 504
    title = "The payout rail did not answer in time"


class BadRailSignature(HuafeiError):
    code = "bad_rail_signature"
    status = 401
    title = "The rail message's signature or timestamp is not valid"


class PayoutRail(Protocol):
    name: RailName

    def submit(self, order: PayoutOrder) -> PayoutAck:
        """Hand a payout to the rail. Raises ``RailTimeout`` / ``RailError``."""
        ...

    def query(self, payout_id: str) -> PayoutResult:
        """The rail's state of a payout (``unknown`` if it never received it)."""
        ...

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> PayoutResult:
        """Verify a callback's signature and timestamp window and decode it.

        Raises ``BadRailSignature``.
        """
        ...

    def fetch_statement(self, day: date) -> bytes:
        """The rail's statement file for ``day`` (Beijing time), in the rail's own format."""
        ...


# -- signing --------------------------------------------------------------------------------------
RAIL_SIGNING = SigningScheme(timestamp_header=TIMESTAMP_HEADER, signature_header=SIGNATURE_HEADER)


def signed_headers(secret: bytes, body: bytes, now: datetime) -> dict[str, str]:
    return RAIL_SIGNING.signed_headers(secret, body, timestamp=now)


def verify_signature(
    secret: bytes, headers: Mapping[str, str], body: bytes, *, now: datetime, window_seconds: int
) -> None:
    """Raise ``BadRailSignature`` unless the message is signed with ``secret`` and fresh."""
    refusal = RAIL_SIGNING.refusal(secret, headers, body, now=now, window_seconds=window_seconds)
    if refusal is not None:
        raise BadRailSignature(refusal)


def canonical_json(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def configured_rail_secrets(spec: str) -> dict[RailName, bytes]:
    """The secrets ``bank:base64,alipay:base64,…`` names; ``ValueError`` for an unknown rail or
    bad base64 (the message names the rail, never the secret)."""
    given = parse_keyed_secrets(
        spec, describe=lambda name: f"the {name} secret", known=set(RailName), kind="rail"
    )
    for name, secret in given.items():
        if not secret:
            raise ValueError(f"the {name} secret is empty")
    return {RailName(name): secret for name, secret in given.items()}


def development_rail_secret(rail: RailName) -> bytes:
    """Derived from a constant anyone can read: development and tests only."""
    return hashlib.sha256(f"huafei-dev:rail:{rail}".encode()).digest()


def rail_secrets(spec: str) -> dict[RailName, bytes]:
    """``bank:base64,alipay:base64,…``; rails left out get a development secret (which the
    production check refuses)."""
    given = configured_rail_secrets(spec)
    return {rail: given.get(rail) or development_rail_secret(rail) for rail in RailName}
