"""The price of a top-up bought with consumption credit: the carrier's face values, less the
disclosed discount of ``data/topup.json``, rounded down to the fen (in the seller's favour)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources

from sqlalchemy.orm import Session

from huafei.carriers.formats import face_values_fen
from huafei.carriers.gateway import Carrier
from huafei.core.errors import HuafeiError
from huafei.core.money import Money, Rate
from huafei.credit import errors
from huafei.credit.service.balance import credit_balance
from huafei.identity.validation import mask_phone, parse_mobile


@dataclass(frozen=True, slots=True)
class TopUpTerms:
    """The disclosed discount: a top-up of face value F costs F × (1 − rate) of credit, rounded
    down to the fen (in the seller's favour)."""

    discount_rate: Decimal
    source: str

    def price(self, face_value_fen: int) -> int:
        """What a top-up of ``face_value_fen`` costs in credit."""
        return Rate(self.discount_rate).complement().apply(Money(face_value_fen)).fen

    @property
    def discount_percent(self) -> str:
        """The discount as people read it: ``2%``."""
        return Rate(self.discount_rate).as_percent()


@cache
def default_terms() -> TopUpTerms:
    """The terms in ``data/topup.json``."""
    text = resources.files("huafei.credit").joinpath("data", "topup.json").read_text("utf-8")
    data = json.loads(text)
    return TopUpTerms(Decimal(str(data["discount_rate"])), str(data["source"]))


@dataclass(frozen=True, slots=True)
class TopUpQuote:
    """What the seller sees before confirming: the number's carrier, the face value, the price
    in credit and the discount, and what a request would be refused with now."""

    carrier: str
    phone_masked: str
    face_value_fen: int
    price_fen: int
    discount_fen: int
    discount_rate: Decimal
    available_fen: int
    refused: HuafeiError | None = None


def priced(phone: str, face_value_fen: int, terms: TopUpTerms) -> tuple[str, Carrier, int]:
    """The number in national form, its carrier (from its segment) and the price; refused
    when the number is not a mainland mobile number or the carrier sells no such top-up."""
    number = parse_mobile(phone)
    sold = face_values_fen(number.carrier)
    if face_value_fen not in sold:
        raise errors.TopUpAmountNotSold(
            f"{number.carrier.value} tops up "
            + ", ".join(Money(fen).format() for fen in sorted(sold)),
            carrier=number.carrier.value,
        )
    return number.phone, number.carrier, terms.price(face_value_fen)


def quote_topup(
    session: Session, *, owner_ref: str, phone: str, face_value_fen: int, terms: TopUpTerms
) -> TopUpQuote:
    """The price of topping ``phone`` up by ``face_value_fen`` and whether the credit covers
    it; nothing is written."""
    national, carrier, price = priced(phone, face_value_fen, terms)
    available = credit_balance(session, owner_ref).available_fen
    refused = None if available >= price else insufficient(available, price)
    return TopUpQuote(
        carrier=carrier.value,
        phone_masked=mask_phone(national),
        face_value_fen=face_value_fen,
        price_fen=price,
        discount_fen=face_value_fen - price,
        discount_rate=terms.discount_rate,
        available_fen=available,
        refused=refused,
    )


def insufficient(available_fen: int, price_fen: int) -> errors.InsufficientCredit:
    """The refusal of a price the available credit does not cover."""
    return errors.InsufficientCredit(
        f"the consumption credit available is {Money(available_fen)}; "
        f"this top-up costs {Money(price_fen)}",
        available_fen=available_fen,
        needed_fen=price_fen,
    )
