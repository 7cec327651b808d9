"""Response shapes of the public rate endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from huafei.rates.service import QuoteView


class ProfileOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    settlement: str = Field(description="realtime or working_days")
    settlement_days: int
    default_fee_rate: str
    single_order_limit_fen: int
    destination: str
    rate_model: str
    description_zh: str
    description_en: str


class RateOut(BaseModel):
    profile: str
    carrier: str
    face_value_fen: int
    lane: str
    rate: str = Field(description="exact decimal fraction of face value paid, e.g. 0.88")
    rate_zhe: str = Field(description="the same rate shown as 折, e.g. 8.8折")
    payout_fen: int


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


class QuoteOut(BaseModel):
    profile: str
    carrier: str
    face_value_fen: int
    lane: str
    count: int
    rate_card_version: int
    rate: str
    rate_zhe: str
    payout_fen: int = Field(description="paid per card, rounded down to the fen")
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
            profile=p.profile_code,
            carrier=p.carrier,
            face_value_fen=p.face_value_fen,
            lane=str(p.lane),
            count=view.count,
            rate_card_version=p.version.version,
            rate=str(p.rate),
            rate_zhe=p.rate.as_zhe(),
            payout_fen=p.payout.fen,
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
