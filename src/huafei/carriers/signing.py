"""The carrier channels' signing: the platform's one scheme (``core.signing``) with their headers.

A signed message, in either direction, carries ``X-Carrier-Timestamp`` (unix seconds) and
``X-Carrier-Signature`` under the channel's shared secret; a receiver accepts it within
``WINDOW_SECONDS`` of its own clock (docs/signing.md).
"""

from __future__ import annotations

from huafei.core.signing import WINDOW_SECONDS, SigningScheme

__all__ = ["CARRIER_SIGNING", "WINDOW_SECONDS", "signed_headers"]

CARRIER_SIGNING = SigningScheme(
    timestamp_header="X-Carrier-Timestamp", signature_header="X-Carrier-Signature"
)

signed_headers = CARRIER_SIGNING.signed_headers
