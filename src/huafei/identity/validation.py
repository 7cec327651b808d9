"""Parsing what people type: mobile numbers, resident ID numbers, real names, passwords.

Each parser returns a normalised value or raises a typed error naming what is wrong; none
touches the database.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers import carrier as phone_carriers

from huafei.carriers.gateway import Carrier
from huafei.core.crypto import mask
from huafei.core.days import local_day
from huafei.core.text import TextRefused, digits_text
from huafei.identity import errors
from huafei.identity.policy import PASSWORD_MAX_LENGTH

# -- mobile numbers -------------------------------------------------------------------------------
_CARRIER_NAMES = {
    "China Mobile": Carrier.CMCC,
    "China Unicom": Carrier.CUCC,
    "China Telecom": Carrier.CTCC,
}


@dataclass(frozen=True, slots=True)
class MobileNumber:
    phone: str
    """11-digit national form."""
    carrier: Carrier
    """From the number's segment (号段); a number ported to another carrier keeps its segment."""

    @property
    def masked(self) -> str:
        return mask_phone(self.phone)


_MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def parse_mainland_mobile(text: str) -> str:
    """The one rule for a mainland mobile number, wherever one is typed (sign-in, an Alipay
    account …): ``+86 138-0013-8000``, ``13800138000``, full-width digits … → ``13800138000``.

    ``phonenumbers`` decides what is a mobile number (so ``140…`` data-only segments are
    refused); digits of other scripts are refused, not read.
    """
    try:
        raw = digits_text(text or "").strip()
    except TextRefused:
        raise errors.InvalidPhoneNumber("Enter an 11-digit mainland mobile number.") from None
    if not raw or len(raw) > 32:
        raise errors.InvalidPhoneNumber("Enter an 11-digit mainland mobile number.")
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        raise errors.InvalidPhoneNumber("Enter an 11-digit mainland mobile number.") from None
    if (
        number.country_code != 86
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number) not in _MOBILE_TYPES
    ):
        raise errors.InvalidPhoneNumber("Enter an 11-digit mainland mobile number.")
    return str(number.national_number)


def parse_mobile(text: str) -> MobileNumber:
    """A seller's number: ``parse_mainland_mobile`` and a carrier we serve (from its segment)."""
    national = parse_mainland_mobile(text)
    number = phonenumbers.parse(national, "CN")
    carrier = _CARRIER_NAMES.get(phone_carriers.name_for_number(number, "en"))
    if carrier is None:
        raise errors.UnsupportedCarrier(
            "Only China Mobile, China Unicom and China Telecom numbers are served.",
            phone=mask_phone(national),
        )
    return MobileNumber(phone=national, carrier=carrier)


# -- resident ID numbers (GB 11643-1999) ---------------------------------------------------------
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
_ID_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")
#: GB/T 2260 provinces, plus 71/81/82/83 (Taiwan, Hong Kong, Macao residents' residence permits,
#: which use the same 18-character format).
_PROVINCES = frozenset(
    {
        11,
        12,
        13,
        14,
        15,
        21,
        22,
        23,
        31,
        32,
        33,
        34,
        35,
        36,
        37,
        41,
        42,
        43,
        44,
        45,
        46,
        50,
        51,
        52,
        53,
        54,
        61,
        62,
        63,
        64,
        65,
        71,
        81,
        82,
        83,
    }
)
ADULT_AGE = 18


def id_check_char(first17: str) -> str:
    """The 18th character of a resident ID number (ISO 7064 MOD 11-2)."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


@dataclass(frozen=True, slots=True)
class IdNumber:
    value: str
    birth_date: date

    @property
    def masked(self) -> str:
        return mask_id_number(self.value)


def parse_id_number(text: str, *, now: datetime) -> IdNumber:
    """Check shape, check digit, region and date of birth, and that the holder is an adult.

    Full-width digits are read as digits; other scripts' digits (``١١٠١…``) are refused, so a
    number has one spelling and one duplicate hash.
    """
    try:
        value = re.sub(r"\s", "", digits_text(text or "")).upper()
    except TextRefused:
        value = ""
    if not _ID_SHAPE.match(value):
        raise errors.InvalidIdNumber(
            "A resident ID number is 17 digits followed by a digit or X.", reason="shape"
        )
    expected = id_check_char(value[:17])
    if value[17] != expected:
        raise errors.IdCheckDigitMismatch(
            "The last character does not match the other 17; check the number for a typo."
        )
    if int(value[:2]) not in _PROVINCES:
        raise errors.InvalidIdNumber(
            "The first two digits are not a mainland region code.", reason="region"
        )
    today = local_day(now)
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise errors.IdBirthDateInvalid("Digits 7 to 14 are not a real date.") from None
    if born.year < 1900 or born > today:
        raise errors.IdBirthDateInvalid("Digits 7 to 14 are not a past date of birth.")
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if age < ADULT_AGE:
        raise errors.SellerIsMinor(
            "Sellers must be 18 or older to verify their identity.", minimum_age=ADULT_AGE
        )
    return IdNumber(value=value, birth_date=born)


# -- real names ----------------------------------------------------------------------------------
_HAN = (
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\U00020000-\U0002a6df\U0002a700-\U0002ebef\U00030000-\U0003134f"
)
_REAL_NAME = re.compile(rf"^[{_HAN}]+(·[{_HAN}]+)*$")
_MIDDLE_DOTS = str.maketrans({"•": "·", "・": "·", "．": "·", ".": "·", "‧": "·", "･": "·"})


def parse_real_name(text: str) -> str:
    """Chinese characters, with ``·`` between the parts of minority and transliterated names."""
    value = unicodedata.normalize("NFKC", text or "").strip().translate(_MIDDLE_DOTS)
    value = re.sub(r"\s+", "", value)  # people type spaces between characters; names have none
    if not 2 <= len(value) <= 30 or not _REAL_NAME.match(value):
        raise errors.InvalidRealName(
            "Enter the name exactly as on the ID card, in Chinese characters."
        )
    return value


# -- passwords and usernames ---------------------------------------------------------------------
def check_password(password: str, *, min_length: int) -> str:
    if not min_length <= len(password) <= PASSWORD_MAX_LENGTH:
        raise errors.WeakPassword(
            f"Use {min_length} to {PASSWORD_MAX_LENGTH} characters.", min_length=min_length
        )
    if len(set(password)) < 4:
        raise errors.WeakPassword("Use at least four different characters.")
    if password.isdigit() and len(password) < 12:
        raise errors.WeakPassword("A password of digits only needs at least 12 of them.")
    return password


_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")


def parse_username(text: str) -> str:
    value = (text or "").strip().lower()
    if not _USERNAME.match(value):
        raise errors.InvalidUsername
    return value


# -- masking -------------------------------------------------------------------------------------
def mask_phone(phone: str) -> str:
    """``138****8000``."""
    return mask(phone, keep_start=3, keep_end=4)


def mask_id_number(value: str) -> str:
    """``3101**********1234``."""
    return mask(value, keep_start=4, keep_end=4)


def mask_real_name(name: str) -> str:
    """``张*`` / ``欧**``: the family name's first character kept."""
    return name[:1] + "*" * (len(name) - 1)
