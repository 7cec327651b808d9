"""Response shapes of the public rate endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from huafei.rates.service import Priced, QuoteView, RateTableRow


class ProfileOut(BaseModel):
    """A channel profile as published (read from its row)."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    name_zh: str
    name_en: str
    settlement: str = Field(description="realtime or working_days")
    settlement_days: int
    default_fee_rate: Annotated[str, BeforeValidator(str)]
    single_order_limit_fen: int
    destination: str
    rate_model: str
    description_zh: str
    description_en: str


class RateOut(BaseModel):
    """What one card of a carrier, face value and lane pays on a profile."""

    profile: str
    carrier: str
    face_value_fen: int
    lane: str
    rate: str = Field(description="exact decimal fraction of face value paid, e.g. 0.88")
    rate_zhe: str = Field(description="the same rate shown as 折, e.g. 8.8折")
    payout_fen: int = Field(description="paid per card, rounded down to the fen")

    @classmethod
    def priced(cls, price: Priced | RateTableRow) -> RateOut:
        return RateOut(
            profile=price.profile_code,
            carrier=price.carrier,
            face_value_fen=price.face_value_fen,
            lane=str(price.lane),
            rate=str(price.rate),
            rate_zhe=price.rate.as_zhe(),
            payout_fen=price.payout.fen,
        )


class RateEntryOut(BaseModel):
    carrier: str
    face_value_fen: int = Field(description="0 means every face value of the carrier")
    lane: str
    rate: str


class RateVersionOut(BaseModel):
    profile: str
    version: int
    effective_at: datetime
    note: str
    entries: list[RateEntryOut]


class QuoteOut(RateOut):
    """The rate of one card, and the totals of ``count`` cards at it."""

    count: int
    rate_card_version: int
    fee_fen: int = Field(description="kept per card: face value − payout")
    total_face_value_fen: int
    total_payout_fen: int
    total_fee_fen: int
    total_payout_yuan: str
    quote_id: str | None = None
    expires_at: datetime | None = None

    @classmethod
    def of(cls, view: QuoteView) -> QuoteOut:
        p = view.priced
        return cls(
            **RateOut.priced(p).model_dump(),
            count=view.count,
            rate_card_version=p.version.version,
            fee_fen=p.fee.fen,
            total_face_value_fen=view.total_face.fen,
            total_payout_fen=view.total_payout.fen,
            total_fee_fen=view.total_fee.fen,
            total_payout_yuan=view.total_payout.plain(),
            quote_id=view.quote_id,
            expires_at=view.expires_at,
        )


class AgreementOut(BaseModel):
    version: str
    title: str
    body: str
    sha256: str
    effective_at: datetime
