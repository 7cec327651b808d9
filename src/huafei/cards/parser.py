"""Pasted batches of cards: one card a line, ``serial PIN`` in the forms people actually paste.

Accepted per line: serial and PIN separated by spaces, tabs, a comma (ASCII or full-width ``，``),
a semicolon, ``、`` or ``|``; full-width digits and spaces; stray spaces around either; CRLF or
CR line ends; a byte-order mark and zero-width characters (both arrive with copied text). Blank
lines are ignored. Each bad line is reported with its number and a stable reason code, the good
ones are kept:

============================  ==================================================================
code                          meaning
============================  ==================================================================
``missing_pin``               only one field on the line
``too_many_fields``           more than serial and PIN on the line
``not_digits``                serial or PIN holds something other than digits (digits of other
                              scripts and control characters included)
``serial_length``             the serial's length matches none of the carrier's formats
``pin_length``                the PIN's length does not match the format of that serial length
``wrong_carrier``             serial and PIN lengths are another carrier's format
``duplicate_in_batch``        the same serial appeared on an earlier line of the batch
``too_many_cards``            the batch already holds the maximum number of cards
============================  ==================================================================

Messages give lengths and line numbers, never the digits, so they can be shown and logged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from huafei.cards.errors import CardFormatInvalid
from huafei.carriers.formats import CARRIER_CARDS, CarrierCards, check_card
from huafei.carriers.gateway import Carrier
from huafei.core.text import TextRefused, check_text

MAX_CARDS_PER_BATCH = 1000

_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060"))
_SEPARATORS = re.compile(r"[\s,;、|]+")


@dataclass(frozen=True, slots=True)
class ParsedCard:
    line: int
    serial: str
    pin: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    """The outcome of parsing a batch: the good cards in input order, and each bad line."""

    carrier: Carrier
    cards: list[ParsedCard]
    errors: list[LineError]

    @property
    def ok(self) -> bool:
        return not self.errors


def normalize(text: str) -> str:
    """NFKC (full-width digits, commas and spaces become ASCII) without invisible characters."""
    return unicodedata.normalize("NFKC", text).translate(_INVISIBLE)


def split_lines(text: str) -> list[str]:
    """Lines as a person sees them: LF, CRLF and CR all end a line; nothing else does."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def parse_batch(
    text: str,
    carrier: Carrier,
    *,
    max_cards: int = MAX_CARDS_PER_BATCH,
    table: Mapping[Carrier, CarrierCards] = CARRIER_CARDS,
) -> ParsedBatch:
    """Parse pasted lines into cards of ``carrier``; every bad line becomes a ``LineError``."""
    cards: list[ParsedCard] = []
    errors: list[LineError] = []
    first_line_of: dict[str, int] = {}
    for number, typed in enumerate(split_lines(text), start=1):
        try:
            # Before NFKC, which would read some other digits (``²``, ``①``) as ASCII ones.
            raw = normalize(check_text(typed, multiline=True))
        except TextRefused:
            errors.append(LineError(number, "not_digits", "serial and PIN must be digits only"))
            continue
        fields = [part for part in _SEPARATORS.split(raw) if part]
        if not fields:
            continue
        if len(fields) == 1:
            errors.append(LineError(number, "missing_pin", "a line needs a serial and a PIN"))
            continue
        if len(fields) > 2:
            errors.append(
                LineError(
                    number,
                    "too_many_fields",
                    f"{len(fields)} fields found; a line holds a serial and a PIN",
                )
            )
            continue
        serial, pin = fields
        problem = check_card(carrier, serial, pin, table=table)
        if problem is not None:
            errors.append(LineError(number, problem.code, problem.message))
            continue
        earlier = first_line_of.get(serial)
        if earlier is not None:
            errors.append(
                LineError(number, "duplicate_in_batch", f"the same card as line {earlier}")
            )
            continue
        if len(cards) >= max_cards:
            errors.append(
                LineError(number, "too_many_cards", f"a batch holds at most {max_cards} cards")
            )
            continue
        first_line_of[serial] = number
        cards.append(ParsedCard(number, serial, pin))
    return ParsedBatch(carrier, cards, errors)


def parse_card(carrier: Carrier, serial: str, pin: str) -> ParsedCard:
    """One card typed into two fields; normalised like a batch line.

    Raises ``CardFormatInvalid`` whose ``reason`` is one of the codes above.
    """
    try:
        serial = _SEPARATORS.sub("", normalize(check_text(serial)))
        pin = _SEPARATORS.sub("", normalize(check_text(pin)))
    except TextRefused:
        serial = pin = ""
    problem = check_card(carrier, serial, pin)
    if problem is not None:
        raise CardFormatInvalid(problem.message, reason=problem.code, carrier=carrier.value)
    return ParsedCard(1, serial, pin)
