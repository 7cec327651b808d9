"""Card formats and face values per carrier, read from the data file ``card_formats.json``.

The table is data, not code: an older regional format or a newly sold face value is an entry in
the JSON file. A card is valid for a carrier when its serial and PIN lengths match one of that
carrier's formats; both must be ASCII digits (the parser normalises full-width digits first).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from huafei.carriers.errors import FaceValueNotSold
from huafei.carriers.gateway import Carrier
from huafei.core.money import Money

_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class CardFormat:
    carrier: Carrier
    name: str
    serial_length: int
    pin_length: int


@dataclass(frozen=True, slots=True)
class CarrierCards:
    """What one carrier sells: its card formats and face values."""

    carrier: Carrier
    name: str
    face_values_fen: tuple[int, ...]
    formats: tuple[CardFormat, ...]


@dataclass(frozen=True, slots=True)
class CardProblem:
    """Why a serial/PIN pair is not a card of a carrier; ``code`` is stable."""

    code: str
    message: str


def _load(document: dict[str, Any]) -> dict[Carrier, CarrierCards]:
    table: dict[Carrier, CarrierCards] = {}
    for key, entry in document["carriers"].items():
        carrier = Carrier(key)
        faces = tuple(
            sorted(Money.from_yuan(int(value)).fen for value in entry["face_values_yuan"])
        )
        formats = tuple(
            CardFormat(carrier, f["name"], int(f["serial_length"]), int(f["pin_length"]))
            for f in entry["formats"]
        )
        if not faces or any(face <= 0 for face in faces) or len(set(faces)) != len(faces):
            raise ValueError(f"{key}: face values must be distinct positive amounts")
        if not formats or any(f.serial_length <= 0 or f.pin_length <= 0 for f in formats):
            raise ValueError(f"{key}: formats need positive serial and PIN lengths")
        table[carrier] = CarrierCards(carrier, str(entry["name"]), faces, formats)
    missing = set(Carrier) - set(table)
    if missing:
        raise ValueError(f"card formats missing for {sorted(missing)}")
    return table


def load_table(text: str) -> dict[Carrier, CarrierCards]:
    """Parse a card-format document (the shape of ``card_formats.json``)."""
    return _load(json.loads(text))


CARRIER_CARDS: dict[Carrier, CarrierCards] = load_table(
    resources.files("huafei.carriers").joinpath("card_formats.json").read_text(encoding="utf-8")
)


def face_values_fen(carrier: Carrier) -> tuple[int, ...]:
    """The face values the carrier sells, ascending, in fen."""
    return CARRIER_CARDS[carrier].face_values_fen


def require_face_value(carrier: Carrier, face_value_fen: int) -> None:
    """Raise ``FaceValueNotSold`` unless the carrier sells cards of this face value."""
    sold = face_values_fen(carrier)
    if face_value_fen not in sold:
        raise FaceValueNotSold(
            f"{CARRIER_CARDS[carrier].name} sells cards of "
            + ", ".join(Money(face).format() for face in sold),
            carrier=carrier.value,
            face_value_fen=face_value_fen,
            face_values_fen=list(sold),
        )


def check_card(
    carrier: Carrier,
    serial: str,
    pin: str,
    *,
    table: Mapping[Carrier, CarrierCards] = CARRIER_CARDS,
) -> CardProblem | None:
    """Why ``serial``/``pin`` (already normalised) is not a card of ``carrier``, or None.

    Messages give lengths, never the digits, so they are safe to show and log.
    """
    if not _DIGITS.fullmatch(serial) or not _DIGITS.fullmatch(pin):
        return CardProblem("not_digits", "serial and PIN must be digits only")
    formats = table[carrier].formats
    if any(f.serial_length == len(serial) and f.pin_length == len(pin) for f in formats):
        return None
    for other in table.values():
        if other.carrier is carrier:
            continue
        if any(f.serial_length == len(serial) and f.pin_length == len(pin) for f in other.formats):
            return CardProblem(
                "wrong_carrier",
                f"a {len(serial)}-digit serial with a {len(pin)}-digit PIN is a card of "
                f"{other.name}, not {table[carrier].name}",
            )
    serial_lengths = sorted({f.serial_length for f in formats})
    matching = [f for f in formats if f.serial_length == len(serial)]
    if not matching:
        return CardProblem(
            "serial_length",
            f"the serial has {len(serial)} digits; {_lengths(serial_lengths)} expected",
        )
    pin_lengths = sorted({f.pin_length for f in matching})
    return CardProblem(
        "pin_length", f"the PIN has {len(pin)} digits; {_lengths(pin_lengths)} expected"
    )


def _lengths(lengths: list[int]) -> str:
    return " or ".join(str(n) for n in lengths)
