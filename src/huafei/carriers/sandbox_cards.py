"""The carrier sandboxes' card stock, issued deterministically so no storage is shared.

A sandbox card's serial says what the card is; its PIN is an HMAC of the sandbox card secret over
carrier and serial. Any sandbox process with the same secret therefore honours every card that
``huafei sandbox issue-cards`` printed, and a PIN typed wrong is recognised as wrong.

Serial layout (the carrier's national serial length, e.g. 17 digits for China Mobile)::

    9  K  FF  AA  NNN…N
    |  |  |   |   sequence number, zero-padded to fill the serial
    |  |  |   actual face value in tens of yuan (differs from FF only for wrong-face cards)
    |  |  printed face value in tens of yuan (10 yuan → 01, 500 yuan → 50)
    |  kind: 1 good, 2 used, 3 expired, 4 wrong-face
    9 marks a sandbox card

The PIN is ``HMAC-SHA256(secret, f"{carrier}:{serial}")`` read as a number, modulo 10^length,
zero-padded to the carrier's PIN length.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass, field

from huafei.carriers.formats import CARRIER_CARDS, face_values_fen
from huafei.carriers.gateway import Carrier

SANDBOX_MARK = "9"
FEN_PER_TEN_YUAN = 1000
_HEADER_DIGITS = 6


class SandboxCardKind(enum.StrEnum):
    GOOD = "good"
    """Succeeds once at its face value; used after that."""
    USED = "used"
    """Already consumed elsewhere: answered ``used``."""
    EXPIRED = "expired"
    """Past its validity: answered ``expired``."""
    WRONG_FACE = "wrong-face"
    """Printed as one face value, worth another: succeeds with the actual face value."""


_KIND_DIGITS = {
    SandboxCardKind.GOOD: "1",
    SandboxCardKind.USED: "2",
    SandboxCardKind.EXPIRED: "3",
    SandboxCardKind.WRONG_FACE: "4",
}
_KINDS_BY_DIGIT = {digit: kind for kind, digit in _KIND_DIGITS.items()}


@dataclass(frozen=True, slots=True)
class SandboxCard:
    carrier: Carrier
    serial: str
    pin: str = field(repr=False)
    kind: SandboxCardKind
    face_value_fen: int
    actual_face_value_fen: int


class CardIssueError(ValueError):
    """The requested cards cannot be issued (face value not sold, sequence out of range)."""


def _lengths(carrier: Carrier) -> tuple[int, int]:
    national = CARRIER_CARDS[carrier].formats[0]
    return national.serial_length, national.pin_length


def sandbox_pin(secret: str, carrier: Carrier, serial: str) -> str:
    """The PIN the sandbox honours for ``serial``."""
    _, pin_length = _lengths(carrier)
    digest = hmac.new(secret.encode(), f"{carrier.value}:{serial}".encode(), hashlib.sha256)
    return str(int(digest.hexdigest(), 16) % 10**pin_length).zfill(pin_length)


def default_actual_face(carrier: Carrier, face_value_fen: int) -> int:
    """For a wrong-face card: the next smaller face value sold, else the next larger."""
    sold = face_values_fen(carrier)
    smaller = [face for face in sold if face < face_value_fen]
    if smaller:
        return smaller[-1]
    return next(face for face in sold if face > face_value_fen)


def issue_cards(
    secret: str,
    carrier: Carrier,
    face_value_fen: int,
    count: int,
    *,
    kind: SandboxCardKind = SandboxCardKind.GOOD,
    actual_face_value_fen: int | None = None,
    start: int = 1,
) -> list[SandboxCard]:
    """Cards ``start … start+count-1`` of this carrier, face value and kind (always the same)."""
    if face_value_fen not in face_values_fen(carrier):
        raise CardIssueError(f"{carrier} sells no card of {face_value_fen} fen")
    if kind is SandboxCardKind.WRONG_FACE:
        actual = actual_face_value_fen or default_actual_face(carrier, face_value_fen)
        if actual == face_value_fen:
            raise CardIssueError("a wrong-face card's actual face value must differ")
    else:
        if actual_face_value_fen not in (None, face_value_fen):
            raise CardIssueError("only wrong-face cards have a different actual face value")
        actual = face_value_fen
    if actual <= 0 or actual % FEN_PER_TEN_YUAN or actual // FEN_PER_TEN_YUAN > 99:
        raise CardIssueError("an actual face value is a multiple of 10 yuan up to 990 yuan")
    serial_length, _ = _lengths(carrier)
    sequence_digits = serial_length - _HEADER_DIGITS
    if count < 0 or start < 0 or start + count > 10**sequence_digits:
        raise CardIssueError(f"sequence numbers run from 0 to {10**sequence_digits - 1}")
    header = (
        SANDBOX_MARK
        + _KIND_DIGITS[kind]
        + f"{face_value_fen // FEN_PER_TEN_YUAN:02d}"
        + f"{actual // FEN_PER_TEN_YUAN:02d}"
    )
    cards = []
    for number in range(start, start + count):
        serial = header + str(number).zfill(sequence_digits)
        pin = sandbox_pin(secret, carrier, serial)
        cards.append(SandboxCard(carrier, serial, pin, kind, face_value_fen, actual))
    return cards


def read_card(secret: str, carrier: Carrier, serial: str, pin: str) -> SandboxCard | None:
    """The sandbox card ``serial``/``pin`` denote, or None (not a sandbox card, or wrong PIN)."""
    serial_length, pin_length = _lengths(carrier)
    if len(serial) != serial_length or len(pin) != pin_length or not serial.isdigit():
        return None
    if not serial.startswith(SANDBOX_MARK) or serial[1] not in _KINDS_BY_DIGIT:
        return None
    face = int(serial[2:4]) * FEN_PER_TEN_YUAN
    actual = int(serial[4:6]) * FEN_PER_TEN_YUAN
    if face not in face_values_fen(carrier) or actual == 0:
        return None
    if not hmac.compare_digest(sandbox_pin(secret, carrier, serial), pin):
        return None
    return SandboxCard(carrier, serial, pin, _KINDS_BY_DIGIT[serial[1]], face, actual)
