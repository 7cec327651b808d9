"""The ``id:base64,id:base64`` settings format: secrets by id, parsed once for every setting that
uses it (``HUAFEI_SECRET_KEYS`` in ``core.crypto``, ``HUAFEI_PAYOUT_RAIL_SECRETS`` in
``payouts.rails.base``, both checked by ``huafei config check``).

Entries are separated by commas (blank entries and spaces around them are ignored); each is an id,
a colon and standard base64. A malformed entry raises ``ValueError`` naming the entry, never its
value, so the message can be shown to the operator as it is.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Collection


def decode_base64(encoded: str, what: str) -> bytes:
    """Strict standard base64; ``ValueError("{what} is not valid base64")`` otherwise."""
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError:
        raise ValueError(f"{what} is not valid base64") from None


def parse_keyed_secrets(
    spec: str,
    *,
    describe: Callable[[str], str],
    known: Collection[str] | None = None,
    kind: str = "id",
) -> dict[str, bytes]:
    """The secrets ``spec`` names, by id, in the order given.

    ``describe(id)`` names an entry in messages (``key 'k1'``, ``the bank secret``); when
    ``known`` is given, an id outside it is ``unknown {kind} 'id'``.
    """
    secrets: dict[str, bytes] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        entry_id, _, encoded = part.partition(":")
        if known is not None and entry_id not in known:
            raise ValueError(f"unknown {kind} {entry_id!r}")
        secrets[entry_id] = decode_base64(encoded, describe(entry_id))
    return secrets
