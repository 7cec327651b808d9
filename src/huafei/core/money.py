"""Money in integer fen and exact decimal rates. No float ever touches an amount.

``Money`` is also the one way to show an amount:

* ``Money.format()`` — for people: ``¥1,234.56`` (``CN¥1,234.56`` in English), Babel's
  currency format in the reader's locale; pages, notices, error messages;
* ``Money.plain()`` — for machines: ``1234.56``, no symbol, no grouping; API fields, CSV
  exports, the rails' statement files;
* ``Money.yuan`` — the amount in yuan as an exact ``Decimal`` with two places (``1234.56``);
  XLSX cells and anything that computes in yuan. "yuan" means this and nothing else; an amount
  given in yuan becomes ``Money`` with ``Money.from_yuan``.

Rounding policy: applying a rate rounds **down** to the fen (``ROUND_FLOOR`` on a non-negative
amount), so a computed payout is never more than the exact product and is in the platform's
disfavour by less than one fen only on the fee side, which is computed as the complement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import format_currency

from huafei.core.errors import ValidationFailed
from huafei.core.text import TextRefused, digits_text

CNY = "CNY"
FEN_PER_YUAN = 100
#: The largest amount we accept from input: one trillion yuan, far above any real order and far
#: below the 64-bit column limit, so sums of many amounts cannot overflow.
MAX_INPUT_FEN = 10**12 * FEN_PER_YUAN

_AMOUNT = re.compile(r"^(?P<int>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<frac>[0-9]{1,2}))?$")
#: Longer text is no amount the platform accepts (and is not worth parsing).
MAX_AMOUNT_TEXT = 32


class InvalidAmount(ValidationFailed):
    code = "invalid_amount"
    title = "Not a valid amount"


class CurrencyMismatch(ValidationFailed):
    code = "currency_mismatch"
    title = "Amounts in different currencies"


@dataclass(frozen=True, order=True, slots=True)
class Money:
    """An amount of money: integer fen (1/100 yuan) and a currency."""

    fen: int
    currency: str = CNY

    def __post_init__(self) -> None:
        if not isinstance(self.fen, int) or isinstance(self.fen, bool):
            raise TypeError("Money.fen must be an int")

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_yuan(cls, amount: int | str | Decimal, currency: str = CNY) -> Money:
        """``Money.from_yuan(500)`` is ¥500.00; more than two decimals is ``InvalidAmount``."""
        value = Decimal(amount) * FEN_PER_YUAN
        if value != value.to_integral_value():
            raise InvalidAmount(f"{amount} has more than two decimal places")
        return cls(int(value), currency)

    @classmethod
    def zero(cls, currency: str = CNY) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, text: str, currency: str = CNY) -> Money:
        """Parse what people type: ``12``, ``12.3``, ``12.34``, ``¥12.34``, ``１２.３４``.

        Rejects negatives, exponents, more than two decimals, NaN, blanks, other scripts'
        digits (``١٠٠``) and anything else with ``InvalidAmount`` naming the input.
        """
        if not isinstance(text, str):
            raise InvalidAmount("amount must be text", input=repr(text))
        if len(text) > MAX_AMOUNT_TEXT:
            raise InvalidAmount(f"an amount has at most {MAX_AMOUNT_TEXT} characters")
        try:
            normal = digits_text(text).strip()
        except TextRefused:
            raise InvalidAmount(
                f"{text!r} is not an amount in yuan with at most two decimals", input=text
            ) from None
        normal = normal.removeprefix("¥").removesuffix("元").strip()
        match = _AMOUNT.match(normal)
        if match is None:
            raise InvalidAmount(
                f"{text!r} is not an amount in yuan with at most two decimals", input=text
            )
        whole = int(match["int"].replace(",", ""))
        frac = (match["frac"] or "").ljust(2, "0")
        fen = whole * FEN_PER_YUAN + int(frac or "0")
        if fen > MAX_INPUT_FEN:
            raise InvalidAmount(f"{text!r} is larger than any amount the platform accepts")
        return cls(fen, currency)

    # -- arithmetic -----------------------------------------------------------------------------
    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} cannot be combined")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.fen + other.fen, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.fen - other.fen, self.currency)

    def __mul__(self, times: int) -> Money:
        if not isinstance(times, int):
            raise TypeError("multiply Money by an int; apply a Rate for fractions")
        return Money(self.fen * times, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.fen, self.currency)

    def __bool__(self) -> bool:
        return self.fen != 0

    # -- presentation ---------------------------------------------------------------------------
    @property
    def yuan(self) -> Decimal:
        """The amount in yuan as an exact decimal with two places: ``Decimal("1234.50")``."""
        return Decimal(self.fen).scaleb(-2)

    def plain(self) -> str:
        """``1234.50``: the amount in yuan with two decimals, no symbol, no grouping."""
        return format(self.yuan, "f")

    def format(self, locale: str = "zh_CN") -> str:
        """``¥1,234.56`` in zh-CN, ``CN¥1,234.56`` in English."""
        return _format(self.fen, self.currency, locale)

    def __str__(self) -> str:
        return f"{self.plain()} {self.currency}"


@dataclass(frozen=True, slots=True)
class Rate:
    """An exact decimal fraction, e.g. ``0.985`` (shown as 98.5% or 9.85折)."""

    value: Decimal

    def __post_init__(self) -> None:
        if not isinstance(self.value, Decimal) or not self.value.is_finite():
            raise TypeError("Rate.value must be a finite Decimal")
        if self.value < 0 or self.value > 1:
            raise InvalidAmount(f"rate {self.value} is outside 0..1")

    @classmethod
    def parse(cls, text: str) -> Rate:
        """Accepts ``0.985``, ``98.5%`` and ``9.85折``."""
        if len(str(text)) > MAX_AMOUNT_TEXT:
            raise InvalidAmount(f"a rate has at most {MAX_AMOUNT_TEXT} characters")
        try:
            normal = digits_text(str(text)).strip()
        except TextRefused:
            raise InvalidAmount(f"{text!r} is not a rate") from None
        try:
            if normal.endswith("%"):
                value = Decimal(normal[:-1]) / 100
            elif normal.endswith("折"):
                value = Decimal(normal[:-1]) / 10
            else:
                value = Decimal(normal)
        except InvalidOperation:
            raise InvalidAmount(f"{text!r} is not a rate") from None
        if not value.is_finite():
            raise InvalidAmount(f"{text!r} is not a rate")
        return cls(value)

    def apply(self, amount: Money) -> Money:
        """``amount × rate`` rounded down to the fen."""
        exact = Decimal(amount.fen) * self.value
        return Money(int(exact.to_integral_value(rounding=ROUND_FLOOR)), amount.currency)

    def complement(self) -> Rate:
        return Rate(Decimal(1) - self.value)

    def as_percent(self) -> str:
        return f"{(self.value * 100).normalize():f}%"

    def as_zhe(self) -> str:
        """The trade's way of showing a rate: 0.985 → 9.85折."""
        return f"{(self.value * 10).normalize():f}折"

    def __str__(self) -> str:
        return f"{self.value.normalize():f}"


@lru_cache(maxsize=4096)
def _format(fen: int, currency: str, locale: str) -> str:
    # Notices format the same few amounts over and over; Babel's formatting is not cheap.
    return format_currency(Money(fen, currency).yuan, currency, locale=locale)
