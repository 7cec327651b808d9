"""Test phone numbers the sandboxes know: each one's carrier, service password and balance.

Shared by the carrier sandboxes (service-password check, balance query) and by the identity
sandbox adapters, so a test number behaves the same everywhere. Documented in docs/sandboxes.md.
``balance_fen`` is where a sandbox's balances start; each sandbox then keeps its own.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

from huafei.carriers.gateway import Carrier
from huafei.carriers.segments import segment_carrier


@dataclass(frozen=True, slots=True)
class SandboxNumber:
    phone: str
    carrier: Carrier
    service_password: str
    balance_fen: int


TEST_NUMBERS: dict[str, SandboxNumber] = {
    n.phone: n
    for n in (
        SandboxNumber("13800138000", Carrier.CMCC, "138000", 12_345),
        SandboxNumber("13900139000", Carrier.CMCC, "139000", 50_000),
        SandboxNumber("15000150000", Carrier.CMCC, "150000", 800),
        SandboxNumber("13000130000", Carrier.CUCC, "130000", 23_456),
        SandboxNumber("18600186000", Carrier.CUCC, "186000", 60_000),
        SandboxNumber("18900189000", Carrier.CTCC, "189000", 34_567),
        SandboxNumber("13300133000", Carrier.CTCC, "133000", 70_000),
        # A China Mobile segment (137) ported to China Unicom (携号转网): its segment guesses
        # the wrong carrier, and China Mobile's channel answers ``another_carrier``.
        SandboxNumber("13700137000", Carrier.CUCC, "137000", 30_000),
    )
}

#: The platform's receiving numbers at each carrier (the balance it buys is transferred to
#: them): no service password, so they can be credited but not debited over the channel.
#: Each sandbox lists them from the start, at a balance of 0.
RECEIVING_NUMBERS: dict[Carrier, tuple[str, ...]] = {
    Carrier.CMCC: ("13500135000", "15800158000"),
    Carrier.CUCC: ("13100131000", "15600156000"),
    Carrier.CTCC: ("17700177000", "18100181000"),
}


#: Derived numbers: every China Mobile number of the block 19800000000–19809999999 has a service
#: password derived from the sandbox secret (HMAC, like the test cards) and starts at ¥500, so
#: any number of sellers can sell balance — the orders benchmark's balance mode — with no list
#: shared between processes.
DERIVED_PREFIX = "1980"
DERIVED_BALANCE_FEN = 50_000


def derived_number(secret: str, phone: str) -> SandboxNumber | None:
    """The derived number ``phone`` (its service password under ``secret``), or None."""
    if len(phone) != 11 or not phone.startswith(DERIVED_PREFIX) or not phone.isdigit():
        return None
    digest = hmac.new(secret.encode(), f"service-password:{phone}".encode(), hashlib.sha256)
    password = f"{int(digest.hexdigest(), 16) % 10**6:06d}"
    return SandboxNumber(phone, Carrier.CMCC, password, DERIVED_BALANCE_FEN)


def sandbox_number(secret: str, phone: str) -> SandboxNumber | None:
    """A test number, or a derived one under ``secret``; None for any other number."""
    return TEST_NUMBERS.get(phone) or derived_number(secret, phone)


def service_password_matches(phone: str, password: str) -> bool:
    """The sandbox's answer to a service-password check (unknown numbers never match)."""
    number = TEST_NUMBERS.get(phone)
    return number is not None and number.service_password == password


def carrier_of(phone: str) -> Carrier | None:
    """The carrier of a mainland mobile number in its 11-digit national form.

    A test number's own carrier, else the one its segment (号段) was assigned to; None for
    anything that is not a valid number of the three carriers.
    """
    number = TEST_NUMBERS.get(phone)
    if number is not None:
        return number.carrier
    if len(phone) != 11 or not phone.isascii() or not phone.isdigit():
        return None
    parsed = phonenumbers.parse(phone, "CN")
    if not phonenumbers.is_valid_number(parsed) or phonenumbers.number_type(parsed) not in (
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        return None
    return segment_carrier(parsed)
