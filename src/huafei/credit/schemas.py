"""Request and response shapes of the consumption-credit routes.

Amounts go out as integer fen plus a yuan string for display; a top-up's face value comes in as
integer fen (one of the carrier's denominations), never a float.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from huafei.core.money import Money
from huafei.core.types import Fen, PositiveFen, Text
from huafei.credit.models import CreditTopUp
from huafei.credit.service.balance import CreditLine
from huafei.payouts.schemas import QuoteRefusal


class CreditBalanceOut(BaseModel):
    owner_ref: str
    currency: str = "CNY"
    available_fen: int = Field(description="spendable on top-ups now")
    held_fen: int = Field(description="held for top-ups the carrier has not answered yet")
    total_fen: int
    available: str
    held: str
    total: str
    withdrawable: bool = Field(
        default=False, description="consumption credit is spent on top-ups, never withdrawn"
    )
    discount_rate: str = Field(description="a top-up costs its face value × (1 − this)")
    discount_percent: str


class CreditLineOut(BaseModel):
    transfer_id: str
    at: datetime
    reason: str
    ref: str | None
    change_fen: int
    change: str

    @classmethod
    def of(cls, line: CreditLine) -> CreditLineOut:
        return cls(
            transfer_id=line.transfer_id, at=line.at, reason=line.reason, ref=line.ref,
            change_fen=line.change_fen, change=Money(line.change_fen).plain(),
        )  # fmt: skip


class CreditHistoryOut(BaseModel):
    rows: list[CreditLineOut]
    next_cursor: str | None


class TopUpQuoteIn(BaseModel):
    phone: Text = Field(min_length=1, max_length=32, description="any mainland mobile number")
    face_value_fen: PositiveFen = Field(description="one of the carrier's top-up amounts")


class TopUpQuoteOut(BaseModel):
    carrier: str
    phone_masked: str
    face_value_fen: int
    price_fen: int
    discount_fen: int
    discount_rate: str
    available_fen: int
    face_value: str
    price: str
    discount: str
    refusal: QuoteRefusal | None = Field(
        default=None, description="set when a top-up of this amount would be refused now"
    )


class TopUpIn(TopUpQuoteIn):
    price_fen: Fen | None = Field(
        default=None, description="the price the seller was shown; refused if it changed"
    )


class TopUpOut(BaseModel):
    id: int
    topup_id: str
    status: str = Field(description="pending, succeeded or refused")
    carrier: str
    phone_masked: str
    face_value_fen: int
    price_fen: int
    discount_fen: int
    face_value: str
    price: str
    discount: str
    channel_ref: str | None
    failure_code: str | None
    failure_reason: str | None
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, t: CreditTopUp) -> TopUpOut:
        return cls(
            id=t.id, topup_id=t.topup_id, status=t.status, carrier=t.carrier,
            phone_masked=t.phone_masked, face_value_fen=t.face_value_fen, price_fen=t.price_fen,
            discount_fen=t.discount_fen, face_value=Money(t.face_value_fen).plain(),
            price=Money(t.price_fen).plain(), discount=Money(t.discount_fen).plain(),
            channel_ref=t.channel_ref, failure_code=t.failure_code,
            failure_reason=t.failure_reason, created_at=t.created_at, completed_at=t.completed_at,
        )  # fmt: skip
