"""Payout account numbers: validation per kind, the bank of a card from its BIN, masking.

Bank cards must pass the Luhn check, have the length their BIN row says, and be debit cards of a
bank in ``data/banks.csv`` (``data/bank_bins.csv`` says where the BINs come from).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

from huafei.core.crypto import mask
from huafei.core.text import TextRefused, digits_text
from huafei.identity import errors as identity_errors
from huafei.identity.validation import parse_mainland_mobile
from huafei.payouts import errors
from huafei.payouts.models import MethodKind

_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}$")
#: WeChat openids are 28 characters from the URL-safe base64 alphabet and start with ``o``.
_OPENID = re.compile(r"^o[A-Za-z0-9_-]{27}$")
#: A digital RMB wallet id (钱包编号) is 16 digits.
_ECNY = re.compile(r"^[0-9]{16}$")
#: What an Alipay account that is not an email address must be: a mobile number.
_PHONE_LIKE = re.compile(r"^[0-9+()]+$")


@dataclass(frozen=True, slots=True)
class Bank:
    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True, slots=True)
class CardBin:
    prefix: str
    bank: Bank
    card_type: str  # DC debit, CC credit, SCC semi-credit
    length: int


@dataclass(frozen=True, slots=True)
class CheckedAccount:
    """A normalised account number and what we learnt about it."""

    kind: MethodKind
    number: str
    masked: str
    bank: Bank | None = None


def _data_rows(name: str) -> list[dict[str, str]]:
    text = resources.files("huafei.payouts").joinpath("data", name).read_text("utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(lines))


@cache
def banks() -> dict[str, Bank]:
    return {
        row["code"]: Bank(row["code"], row["name_zh"], row["name_en"])
        for row in _data_rows("banks.csv")
    }


@cache
def card_bins() -> dict[str, CardBin]:
    known = banks()
    return {
        row["bin"]: CardBin(
            row["bin"], known[row["bank_code"]], row["card_type"], int(row["length"])
        )
        for row in _data_rows("bank_bins.csv")
    }


def luhn_valid(number: str) -> bool:
    """The ISO/IEC 7812 check digit: double every second digit from the right."""
    if not number.isdigit() or not number.isascii():
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def lookup_bin(number: str) -> CardBin | None:
    """The longest BIN prefix of ``number`` in the table whose card length matches."""
    table = card_bins()
    for size in range(min(10, len(number)), 3, -1):
        found = table.get(number[:size])
        if found is not None and found.length == len(number):
            return found
    return None


def normalise(text: str) -> str:
    """Full-width to half-width, spaces and dashes people type between groups removed.

    Other scripts' digits and control characters raise ``InvalidPayoutAccount``.
    """
    try:
        normal = digits_text(text).strip()
    except TextRefused as refused:
        raise errors.InvalidPayoutAccount(
            "type the account with the digits 0-9", reason=refused.reason
        ) from None
    return re.sub(r"[\s-]", "", normal)


def check_account(kind: MethodKind, raw: str) -> CheckedAccount:
    """Validate an account number for ``kind``; raises a typed error naming what is wrong."""
    number = normalise(raw)
    if kind is MethodKind.BANK_CARD:
        return _check_card(number)
    if kind is MethodKind.ALIPAY:
        if _PHONE_LIKE.match(number):
            # The sign-in rule, so an account is a number sign-in would accept, and only that.
            try:
                phone = parse_mainland_mobile(number)
            except identity_errors.InvalidPhoneNumber:
                raise errors.InvalidPayoutAccount(
                    "an Alipay account is a mainland mobile number or email"
                ) from None
            return CheckedAccount(kind, phone, phone[:3] + "****" + phone[-4:])
        if _EMAIL.match(number):
            email = number.lower()
            local, _, domain = email.partition("@")
            return CheckedAccount(kind, email, f"{local[:1]}***@{domain}")
        raise errors.InvalidPayoutAccount("an Alipay account is a mainland mobile number or email")
    if kind is MethodKind.CARRIER_WALLET:
        raise errors.InvalidPayoutAccount(
            "a carrier wallet is the one of your verified phone number; the platform adds it "
            "when a carrier-wallet profile pays you"
        )
    if kind is MethodKind.WECHAT:
        if not _OPENID.match(number):
            raise errors.InvalidPayoutAccount("a WeChat openid is 28 characters starting with 'o'")
        return CheckedAccount(kind, number, mask(number, keep_start=4, keep_end=4))
    if not _ECNY.match(number):
        raise errors.InvalidPayoutAccount("an e-CNY wallet id is 16 digits")
    return CheckedAccount(kind, number, mask(number, keep_start=4, keep_end=4))


def _check_card(number: str) -> CheckedAccount:
    if not (number.isdigit() and number.isascii() and 15 <= len(number) <= 19):
        raise errors.CardNumberInvalid("a bank card number has 15 to 19 digits")
    if not luhn_valid(number):
        raise errors.CardNumberInvalid("the card number's check digit is wrong; please re-check it")
    found = lookup_bin(number)
    if found is None:
        raise errors.CardBankUnsupported(
            "we could not tell the issuing bank from the card number", bin=number[:6]
        )
    if found.card_type != "DC":
        raise errors.CreditCardNotAllowed(
            f"this is a {found.bank.name_zh} credit card; add a debit card (借记卡)",
            bank=found.bank.code,
        )
    return CheckedAccount(MethodKind.BANK_CARD, number, mask_card(number), found.bank)


def mask_card(number: str) -> str:
    """``6222 **** **** 0123``: the bank's BIN start and the last four, as bank apps show."""
    return f"{number[:4]} **** **** {number[-4:]}"


def normalise_name(name: str) -> str:
    """Names compare after NFKC, without spaces, with the middle dots of minority and foreign
    names (·, •, ‧, ・) unified."""
    text = unicodedata.normalize("NFKC", name).strip()
    text = re.sub(r"\s+", "", text)
    return re.sub(r"[·•‧・.]", "·", text)


def mask_name(name: str) -> str:
    """``张*``, ``欧**``: the first character kept, as payment apps show a payee."""
    text = normalise_name(name)
    if len(text) <= 1:
        return "*"
    return text[0] + "*" * (len(text) - 1)
