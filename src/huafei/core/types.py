"""Annotated types for what crosses the HTTP edge: every id, integer and text field uses one.

* ``Id`` — a row id in a path, query or body: 1 … 2⁶³−1 (a ``BIGINT``); anything else is a 422,
  never a database overflow.
* ``Fen`` / ``PositiveFen`` / ``Count`` — amounts and counts with the same upper bound.
* ``Moment`` — a date and time with its UTC offset, between 1970 and 2200: a naive time is
  ambiguous (Beijing or UTC?) and the far past and future do not fit every database.
* ``Text`` — one line: ``core.text`` rules (no control characters, ASCII or full-width digits)
  then NFKC. ``MultilineText`` also keeps line breaks and tabs. ``SecretText`` (passwords,
  codes, tokens) is checked but never rewritten, so what was hashed is what is compared.

Length limits go with each field (``Field(max_length=…)``), applied *after* normalisation: NFKC
can lengthen text (``㍻`` → ``平成``), and the database column is what the limit protects.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from annotated_types import Ge, Gt, Le
from pydantic import AfterValidator, AwareDatetime, BeforeValidator
from pydantic_core import PydanticCustomError

from huafei.core.text import TextRefused, check_text, clean_text

#: The largest value of a signed 64-bit column (``BIGINT``), the bound of every integer input.
MAX_INT64 = 2**63 - 1


def _text_validator(*, multiline: bool, normalize: bool) -> BeforeValidator:
    def validate(value: Any) -> Any:
        if not isinstance(value, str):
            return value  # the str schema after this reports the wrong type
        try:
            if normalize:
                return clean_text(value, multiline=multiline)
            return check_text(value, multiline=multiline)
        except TextRefused as refused:
            raise PydanticCustomError(
                refused.reason, refused.message, {"position": refused.position}
            ) from None

    return BeforeValidator(validate)


#: The range of every date and time accepted from input.
MIN_MOMENT = datetime(1970, 1, 1, tzinfo=UTC)
MAX_MOMENT = datetime(2200, 1, 1, tzinfo=UTC)


def moment_in_range(value: datetime) -> bool:
    """Whether an aware ``value`` lies between ``MIN_MOMENT`` and ``MAX_MOMENT``."""
    try:
        return value.tzinfo is not None and MIN_MOMENT <= value.astimezone(UTC) < MAX_MOMENT
    except OverflowError:  # year 1 at +05:00 is before year 1 in UTC
        return False


def _moment(value: datetime) -> datetime:
    if not moment_in_range(value):
        raise PydanticCustomError(
            "datetime_out_of_range", "a date and time between 1970 and 2200 is expected"
        )
    return value


Id = Annotated[int, Ge(1), Le(MAX_INT64)]
"""A row id: 1 … 2⁶³−1."""
Fen = Annotated[int, Ge(0), Le(MAX_INT64)]
PositiveFen = Annotated[int, Gt(0), Le(MAX_INT64)]
Text = Annotated[str, _text_validator(multiline=False, normalize=True)]
MultilineText = Annotated[str, _text_validator(multiline=True, normalize=True)]
SecretText = Annotated[str, _text_validator(multiline=False, normalize=False)]
Moment = Annotated[AwareDatetime, AfterValidator(_moment)]

__all__ = [
    "MAX_INT64",
    "Fen",
    "Id",
    "Moment",
    "MultilineText",
    "PositiveFen",
    "SecretText",
    "Text",
    "moment_in_range",
]
