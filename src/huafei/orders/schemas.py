"""Request and response shapes of the seller's order API. PINs go in, never out."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from huafei.carriers.gateway import Carrier
from huafei.core.types import MultilineText, PositiveFen, SecretText, Text
from huafei.rates.models import Lane
from huafei.rates.schemas import QuoteOut


class SubmitBase(BaseModel):
    profile: Text = Field(default="third_party", max_length=32, description="channel profile code")
    carrier: Carrier
    face_value_fen: PositiveFen
    lane: Lane = Lane.NORMAL
    agreement_version: Text = Field(max_length=32)
    agreement_sha256: Text = Field(min_length=64, max_length=64)
    lawful_source_confirmed: bool = Field(description="the seller confirms 来源合法")
    device_id: Text = Field(default="", max_length=128)


class SubmitCard(SubmitBase):
    serial: Text = Field(min_length=1, max_length=64)
    pin: SecretText = Field(min_length=1, max_length=64)


class SubmitBatch(SubmitBase):
    cards: MultilineText = Field(
        min_length=1,
        max_length=200_000,
        description="one card a line: `serial PIN`, `serial,PIN`, tabs; at most 1,000 cards",
    )


class ValidateBatch(BaseModel):
    carrier: Carrier
    face_value_fen: PositiveFen
    cards: MultilineText = Field(max_length=200_000)


class LineErrorOut(BaseModel):
    """A line of a pasted batch that was refused (read from the parser's or the service's)."""

    model_config = ConfigDict(from_attributes=True)

    line: int
    code: str
    message: str


class ValidationOut(BaseModel):
    good_lines: list[int]
    errors: list[LineErrorOut]


class EventOut(BaseModel):
    """A step of an order's timeline (read from its event row)."""

    model_config = ConfigDict(from_attributes=True)

    from_state: str | None
    to_state: str
    actor: str
    reason: str
    at: datetime


class OrderOut(BaseModel):
    id: int
    batch_id: int
    line: int
    profile: str
    carrier: str
    face_value_fen: int
    lane: str
    serial_masked: str
    state: str
    rate: str
    quoted_payout_fen: int
    actual_face_value_fen: int | None
    payout_fen: int | None
    fee_fen: int | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime
    settle_at: datetime | None
    settled_at: datetime | None
    timeline: list[EventOut] | None = None


class BatchOut(BaseModel):
    batch_id: int
    quote: QuoteOut
    orders: list[OrderOut]
    rejected: list[LineErrorOut]


class ProgressOut(BaseModel):
    batch_id: int
    total: int
    final: int
    by_state: dict[str, int]
