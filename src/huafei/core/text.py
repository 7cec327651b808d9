"""The rules every piece of text typed into Huafei passes, whatever the field.

* **Control characters are refused**: C0/C1 controls (NUL included: PostgreSQL cannot store it),
  lone surrogates (not encodable as UTF-8), the bidirectional overrides that make text display
  differently from what it is, and the non-characters U+FFFE/U+FFFF. Multi-line fields (pasted
  card batches, statement uploads) may hold line breaks and tabs.
* **Digits are ASCII**: full-width digits (``１２３``, what Chinese input methods type) are
  normalised by NFKC; every other digit — Arabic-Indic ``١٢٣``, Devanagari, superscripts,
  circled or mathematical digits — is refused rather than silently read as a number, so one
  ID number, phone number or amount has exactly one spelling.

``check_text`` raises ``TextRefused`` (a ``ValueError``, so pydantic reports it as a 422 field
error) naming the character's position, never echoing it. ``digits_text`` is the normalisation
for fields made of digits (ID numbers, card serials and PINs, phone numbers, amounts, bank cards,
wallet ids): NFKC after the checks.
"""

from __future__ import annotations

import unicodedata

from huafei.core.errors import ValidationFailed

#: Line breaks and tabs are allowed in multi-line fields only.
MULTILINE_WHITESPACE = frozenset("\n\r\t")
#: Bidirectional embeddings, overrides and isolates (format characters that reorder display).
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_NONCHARACTERS = frozenset("\ufffe\uffff")
_FULLWIDTH_DIGITS = frozenset("０１２３４５６７８９")


class TextRefused(ValueError):
    """A character no text field accepts; ``reason`` is ``control_character`` or
    ``non_ascii_digit``, ``position`` is 1-based."""

    def __init__(self, reason: str, position: int, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.position = position
        self.message = message


class InvalidText(ValidationFailed):
    """A ``TextRefused`` met outside a pydantic model (a portal form, a service argument)."""

    code = "invalid_text"
    title = "The text holds a character that is not accepted"


def _refusal(char: str, position: int, *, multiline: bool) -> TextRefused | None:
    if char.isascii():
        if char.isprintable() or (multiline and char in MULTILINE_WHITESPACE):
            return None
        return TextRefused(
            "control_character",
            position,
            f"character {position} is a control character, which no field accepts",
        )
    category = unicodedata.category(char)
    if category in ("Cc", "Cs") or char in _BIDI_CONTROLS or char in _NONCHARACTERS:
        return TextRefused(
            "control_character",
            position,
            f"character {position} is a control or invisible formatting character",
        )
    if char.isdigit() and char not in _FULLWIDTH_DIGITS:
        return TextRefused(
            "non_ascii_digit",
            position,
            f"character {position} is a digit of another script; type the digits 0-9",
        )
    return None


def check_text(value: str, *, multiline: bool = False) -> str:
    """``value`` unchanged, or ``TextRefused`` for its first refused character."""
    if value.isascii() and (value.isprintable() or multiline):
        # The common case, in one C-speed test: printable ASCII (or ASCII with line breaks).
        if not multiline:
            return value
        if all(c.isprintable() or c in MULTILINE_WHITESPACE for c in value):
            return value
    for position, char in enumerate(value, start=1):
        refusal = _refusal(char, position, multiline=multiline)
        if refusal is not None:
            raise refusal
    return value


def clean_text(value: str, *, multiline: bool = False) -> str:
    """``check_text`` then NFKC: full-width letters, digits and punctuation become ASCII."""
    return unicodedata.normalize("NFKC", check_text(value, multiline=multiline))


def digits_text(value: str) -> str:
    """Text of a digits field, checked and normalised (``１３８`` → ``138``); other scripts'
    digits raise ``TextRefused`` even where NFKC would map them (``²``, ``①``)."""
    return clean_text(value)


def require_text(value: str, *, multiline: bool = False, field: str | None = None) -> str:
    """``check_text`` for callers outside pydantic: raises the 422 problem ``invalid_text``."""
    try:
        return check_text(value, multiline=multiline)
    except TextRefused as refused:
        raise InvalidText(
            f"{field}: {refused.message}" if field else refused.message,
            reason=refused.reason,
            position=refused.position,
            **({"field": field} if field else {}),
        ) from None
