"""Card PINs: encrypted at rest, compared by keyed fingerprint only, masked when shown."""

from __future__ import annotations

import base64
import os

import pytest

from huafei.cards.secrets import (
    card_fingerprint,
    decrypt_pin,
    encrypt_pin,
    mask_pin,
    mask_serial,
    seal_card,
)
from huafei.carriers.gateway import Carrier, ConsumptionRequest
from huafei.core.crypto import Keyring, SecretUnreadable

PIN = "123456789012345678"
SERIAL = "98765432109876543"


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.from_settings("", "", "")


def test_the_pin_is_encrypted_and_comes_back(keyring) -> None:
    stored = encrypt_pin(keyring, PIN)
    assert PIN not in stored
    assert stored != encrypt_pin(keyring, PIN)  # a fresh nonce each time
    assert decrypt_pin(keyring, stored) == PIN


def test_a_pin_ciphertext_is_bound_to_its_context(keyring) -> None:
    stored = encrypt_pin(keyring, PIN)
    with pytest.raises(SecretUnreadable):
        keyring.decrypt(stored, context="id-number")


def test_the_fingerprint_finds_the_same_card_and_only_it(keyring) -> None:
    fingerprint = card_fingerprint(keyring, Carrier.CMCC, SERIAL, PIN)
    assert fingerprint == card_fingerprint(keyring, Carrier.CMCC, SERIAL, PIN)
    assert fingerprint != card_fingerprint(keyring, Carrier.CMCC, SERIAL, PIN[:-1] + "9")
    assert fingerprint != card_fingerprint(keyring, Carrier.CUCC, SERIAL, PIN)
    assert PIN not in fingerprint
    other_key = Keyring.from_settings("", "", base64.b64encode(os.urandom(32)).decode())
    assert fingerprint != card_fingerprint(other_key, Carrier.CMCC, SERIAL, PIN)


def test_masks() -> None:
    assert mask_pin(PIN) == "1234************78"
    assert mask_pin("1234567890123456789") == "1234*************89"
    assert mask_serial(SERIAL) == "9876*********6543"


def test_a_sealed_card_holds_no_plain_pin(keyring) -> None:
    sealed = seal_card(keyring, Carrier.CMCC, SERIAL, PIN)
    assert PIN not in repr(sealed)
    assert sealed.pin_masked == "1234************78"
    assert decrypt_pin(keyring, sealed.pin_ciphertext) == PIN


def test_a_consumption_request_does_not_print_its_pin() -> None:
    request = ConsumptionRequest("c1", Carrier.CMCC, 10_000, SERIAL, PIN, "http://x/cb")
    assert PIN not in repr(request)
    assert PIN not in str(request)
