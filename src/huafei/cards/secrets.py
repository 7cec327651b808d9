"""Card secrets: the PIN encrypted at rest, a keyed fingerprint for duplicates, masked display.

A stored card never holds its plain PIN: ``pin_ciphertext`` is AES-GCM under the keyring's active
key with the context ``card-pin`` bound as associated data (a ciphertext copied into another
column does not decrypt), and ``fingerprint`` is an HMAC of carrier, serial and PIN under the
lookup key, so "has anyone submitted this card before?" is an indexed equality on the
fingerprint, never a comparison of plain PINs. The plain PIN is only decrypted to hand the card
to the carrier channel.
"""

from __future__ import annotations

from dataclasses import dataclass

from huafei.carriers.gateway import Carrier
from huafei.core.crypto import Keyring, mask

PIN_CONTEXT = "card-pin"


@dataclass(frozen=True, slots=True)
class SealedCard:
    """What may be stored and shown of a card: no plain PIN anywhere in it."""

    carrier: Carrier
    serial: str
    pin_ciphertext: str
    fingerprint: str
    pin_masked: str


def encrypt_pin(keyring: Keyring, pin: str) -> str:
    return keyring.encrypt(pin, context=PIN_CONTEXT)


def decrypt_pin(keyring: Keyring, stored: str) -> str:
    """The plain PIN, for handing the card to the carrier only. Never log the result."""
    return keyring.decrypt(stored, context=PIN_CONTEXT)


def card_fingerprint(keyring: Keyring, carrier: Carrier, serial: str, pin: str) -> str:
    """The duplicate-detection key of a card: the same card gives the same value, whoever
    submits it; without the lookup key it reveals nothing about the PIN."""
    return keyring.lookup_hash(carrier.value, serial, pin)


def mask_pin(pin: str) -> str:
    """``1234************78``: the first four and last two digits."""
    return mask(pin, keep_start=4, keep_end=2)


def mask_serial(serial: str) -> str:
    """``1234*********5678``: enough for a person to recognise their card."""
    return mask(serial, keep_start=4, keep_end=4)


def seal_card(keyring: Keyring, carrier: Carrier, serial: str, pin: str) -> SealedCard:
    return SealedCard(
        carrier=carrier,
        serial=serial,
        pin_ciphertext=encrypt_pin(keyring, pin),
        fingerprint=card_fingerprint(keyring, carrier, serial, pin),
        pin_masked=mask_pin(pin),
    )
