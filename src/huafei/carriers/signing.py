"""The signature scheme shared by a carrier channel and the platform, in both directions.

A signed message carries ``X-Carrier-Timestamp`` (unix seconds) and ``X-Carrier-Signature``, the
hex HMAC-SHA256 of ``f"{timestamp}.{raw body}"`` under the channel's shared secret. A receiver
accepts it when the signature matches and the timestamp is within ``window_seconds`` of its own
clock, which bounds how long a captured message can be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

TIMESTAMP_HEADER = "X-Carrier-Timestamp"
SIGNATURE_HEADER = "X-Carrier-Signature"
WINDOW_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, *, timestamp: int) -> dict[str, str]:
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    window_seconds: int = WINDOW_SECONDS,
) -> bool:
    """Whether ``body`` was signed with ``secret`` within the window (header names any case)."""
    lowered = {key.lower(): value for key, value in headers.items()}
    raw_timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    signature = lowered.get(SIGNATURE_HEADER.lower(), "")
    if not raw_timestamp.isascii() or not raw_timestamp.isdigit() or len(raw_timestamp) > 12:
        return False
    timestamp = int(raw_timestamp)
    if abs(now.timestamp() - timestamp) > window_seconds:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature.lower())
