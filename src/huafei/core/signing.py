"""Request signing: the one HMAC-SHA256 scheme of every signed HTTP exchange (docs/signing.md).

A signed message carries a timestamp header (unix seconds) and a signature header, the hex
HMAC-SHA256 of ``f"{timestamp}.{raw body}"`` under a shared secret; where the receiver holds the
secrets of several senders, a key id header names the one used. The receiver accepts a message
when the key is known, the timestamp is within the window of its own clock (which bounds how long
a captured message can be replayed) and the signature matches, compared in constant time.

The protocols that use it differ only in their header names, which are parameters of a
``SigningScheme``: the carrier channels (``carriers.signing``), the payout rails
(``payouts.rails.base``) and the SMS and identity providers (``core.provider_http``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

#: A shared secret: text (UTF-8 encoded) or raw bytes.
Secret = str | bytes

#: A receiver's default tolerance between a message's timestamp and its own clock.
WINDOW_SECONDS = 300
#: More digits than any unix time in seconds for thousands of years: not a timestamp.
_MAX_TIMESTAMP_DIGITS = 12

#: Why ``SigningScheme.refusal`` refuses a message (never a secret or a signature).
MISSING = "timestamp or signature header missing"
UNKNOWN_KEY = "unknown key id"
STALE = "timestamp outside the accepted window (replay?)"
MISMATCH = "signature does not match"


def _key(secret: Secret) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def unix_seconds(moment: datetime) -> int:
    """A moment as the timestamp header carries it: whole unix seconds."""
    return int(moment.timestamp())


@dataclass(frozen=True, slots=True)
class SigningScheme:
    """The header names of one protocol and its receivers' default window."""

    timestamp_header: str
    signature_header: str
    #: names the sender's key where the receiver holds several (``None``: one shared secret)
    key_header: str | None = None
    window_seconds: int = WINDOW_SECONDS

    def sign(self, secret: Secret, timestamp: int, body: bytes) -> str:
        """The hex signature of ``body`` sent at ``timestamp``."""
        message = f"{timestamp}.".encode() + body
        return hmac.new(_key(secret), message, hashlib.sha256).hexdigest()

    def signed_headers(
        self,
        secret: Secret,
        body: bytes,
        *,
        timestamp: int | datetime,
        key_id: str | None = None,
    ) -> dict[str, str]:
        """The headers that sign ``body``; ``key_id`` is required where the scheme names keys."""
        seconds = unix_seconds(timestamp) if isinstance(timestamp, datetime) else timestamp
        headers = {
            self.timestamp_header: str(seconds),
            self.signature_header: self.sign(secret, seconds, body),
        }
        if self.key_header is not None:
            if key_id is None:
                raise TypeError(f"{self.key_header} needs a key id")
            headers = {self.key_header: key_id, **headers}
        return headers

    def refusal(
        self,
        secrets: Secret | Mapping[str, Secret],
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: datetime,
        window_seconds: int | None = None,
    ) -> str | None:
        """Why the message is refused (``MISSING``, ``UNKNOWN_KEY``, ``STALE``, ``MISMATCH``), or
        None when ``body`` was signed with the (named) secret within the window.

        Header names are matched in any case; ``secrets`` maps key ids to secrets where the
        scheme names keys, and is the one secret otherwise. The reason never holds a secret.
        """
        lowered = {name.lower(): value for name, value in headers.items()}
        secret = self._secret_of(secrets, lowered)
        if secret is None:
            return UNKNOWN_KEY
        raw_timestamp = lowered.get(self.timestamp_header.lower(), "")
        signature = lowered.get(self.signature_header.lower(), "")
        if (
            not signature
            or not raw_timestamp.isascii()
            or not raw_timestamp.isdigit()
            or len(raw_timestamp) > _MAX_TIMESTAMP_DIGITS
        ):
            return MISSING
        timestamp = int(raw_timestamp)
        window = self.window_seconds if window_seconds is None else window_seconds
        if abs(now.timestamp() - timestamp) > window:
            return STALE
        if not hmac.compare_digest(self.sign(secret, timestamp, body), signature.lower()):
            return MISMATCH
        return None

    def _secret_of(
        self, secrets: Secret | Mapping[str, Secret], lowered: Mapping[str, str]
    ) -> Secret | None:
        if self.key_header is None:
            if not isinstance(secrets, str | bytes):
                raise TypeError("this scheme has one shared secret, not a key table")
            return secrets
        if isinstance(secrets, str | bytes):
            raise TypeError(f"{self.key_header} names a key: pass the secrets by key id")
        return secrets.get(lowered.get(self.key_header.lower(), ""))
