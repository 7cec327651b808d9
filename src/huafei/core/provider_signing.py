"""How the platform signs its requests to the SMS and identity providers (and how they check).

The scheme of the carrier channels and payout rails, plus a key id: a signed request carries
``X-Huafei-Key`` (the platform's key id at the provider), ``X-Huafei-Timestamp`` (unix seconds)
and ``X-Huafei-Signature``, the hex HMAC-SHA256 of ``f"{timestamp}.{raw body}"`` under the
secret of that key. The provider accepts it when the key is known, the signature matches and the
timestamp is within ``window_seconds`` of its clock; each body carries a ``request_id`` the
provider is idempotent on, so a replay inside the window does nothing twice.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

KEY_HEADER = "X-Huafei-Key"
TIMESTAMP_HEADER = "X-Huafei-Timestamp"
SIGNATURE_HEADER = "X-Huafei-Signature"
WINDOW_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(key_id: str, secret: str, body: bytes, *, timestamp: int) -> dict[str, str]:
    return {
        KEY_HEADER: key_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }


def verify(
    secrets: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    window_seconds: int = WINDOW_SECONDS,
) -> bool:
    """Whether ``body`` was signed under one of ``secrets`` (by key id) within the window."""
    lowered = {key.lower(): value for key, value in headers.items()}
    secret = secrets.get(lowered.get(KEY_HEADER.lower(), ""))
    raw_timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    signature = lowered.get(SIGNATURE_HEADER.lower(), "")
    if secret is None:
        return False
    if not raw_timestamp.isascii() or not raw_timestamp.isdigit() or len(raw_timestamp) > 12:
        return False
    timestamp = int(raw_timestamp)
    if abs(now.timestamp() - timestamp) > window_seconds:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature.lower())
