"""Request and response shapes of balance recycling. Service passwords and codes go in, never
out; numbers come back masked."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from huafei.balance.models import BalanceAuthorisation, BalanceSale
from huafei.balance.service.quoting import BalanceQuote, BalanceView
from huafei.balance.service.reading import RateLine, SaleDetail
from huafei.carriers.gateway import Carrier
from huafei.core.money import Rate
from huafei.core.types import Id, PositiveFen, SecretText, Text
from huafei.identity.schemas import FlowLimitsView
from huafei.identity.validation import mask_phone


# -- requests -----------------------------------------------------------------------------------
class StartAuthorisation(BaseModel):
    phone: Text = Field(max_length=32, description="your own number, verified at sign-in")
    service_password: SecretText = Field(
        min_length=1, max_length=32, description="the number's carrier service password (服务密码)"
    )
    carrier: Carrier | None = Field(
        default=None,
        description="the number's carrier if it was ported (携号转网); else its segment's",
    )


class ConfirmCode(BaseModel):
    code: SecretText = Field(min_length=4, max_length=8, description="the code the carrier texted")


class QuoteRequest(BaseModel):
    authorisation_id: Id
    profile: Text = Field(default="third_party", max_length=32, description="channel profile")
    amount_fen: PositiveFen = Field(description="the balance to sell, in fen")


class SellRequest(BaseModel):
    authorisation_id: Id
    quote_id: Text = Field(min_length=1, max_length=40)
    agreement_version: Text = Field(max_length=32)
    agreement_sha256: Text = Field(min_length=64, max_length=64)
    lawful_source_confirmed: bool = Field(description="the seller confirms 来源合法")
    device_id: Text = Field(default="", max_length=128)


# -- answers ------------------------------------------------------------------------------------
class AuthorisationOut(BaseModel):
    id: int
    phone_masked: str
    carrier: str
    carrier_guessed: bool = Field(description="the carrier came from the number's segment")
    state: str = Field(description="code_sent, verified or used")
    expires_at: datetime = Field(description="the code's expiry, then the authorisation's")
    verified_at: datetime | None
    balance_fen: int | None = Field(description="the balance the carrier last answered")
    balance_at: datetime | None

    @classmethod
    def of(cls, row: BalanceAuthorisation) -> AuthorisationOut:
        return cls(
            id=row.id,
            phone_masked=mask_phone(row.phone),
            carrier=row.carrier,
            carrier_guessed=row.carrier_guessed,
            state=row.state,
            expires_at=row.expires_at,
            verified_at=row.verified_at,
            balance_fen=row.balance_fen,
            balance_at=row.balance_at,
        )


def _rate_text(rate: Rate | None) -> tuple[str | None, str | None]:
    return (None, None) if rate is None else (str(rate), rate.as_zhe())


class BalanceOut(BaseModel):
    authorisation_id: int
    profile: str
    carrier: str
    balance_fen: int = Field(description="available balance, as the carrier answered just now")
    monthly_limit_fen: int = Field(description="the carrier's transfer cap for the number a month")
    sold_this_month_fen: int
    monthly_left_fen: int
    min_amount_fen: int
    unit_fen: int = Field(description="amounts are whole multiples of this (100: whole yuan)")
    kyc: FlowLimitsView = Field(description="your verification level's balance-sale limits")
    max_amount_fen: int = Field(description="the most you can sell now (0: nothing)")
    rate: str | None = Field(description="fraction of the amount paid to you; None: not bought")
    rate_zhe: str | None

    @classmethod
    def of(cls, view: BalanceView) -> BalanceOut:
        room = view.room
        rate, zhe = _rate_text(view.rate)
        return cls(
            authorisation_id=view.authorisation.id,
            profile=view.profile.code,
            carrier=view.authorisation.carrier,
            balance_fen=room.balance_fen,
            monthly_limit_fen=room.terms.monthly_limit_fen,
            sold_this_month_fen=room.sold_this_month_fen,
            monthly_left_fen=room.monthly_left_fen,
            min_amount_fen=room.terms.min_amount_fen,
            unit_fen=room.terms.unit_fen,
            kyc=FlowLimitsView.of(view.kyc),
            max_amount_fen=view.max_amount_fen,
            rate=rate,
            rate_zhe=zhe,
        )


class BalanceQuoteOut(BaseModel):
    quote_id: str
    authorisation_id: int
    profile: str
    carrier: str
    amount_fen: int
    rate_card_version: int
    rate: str
    rate_zhe: str
    payout_fen: int = Field(description="paid to you: amount × rate, rounded down to the fen")
    fee_fen: int = Field(description="kept by the platform: amount − payout")
    settlement: str = Field(description="realtime or working_days")
    settlement_days: int
    settle_at: datetime = Field(description="when the payout is available if sold now")
    destination: str = Field(description="where the payout goes (the profile's destination)")
    expires_at: datetime = Field(description="the price is locked until then")
    agreement_version: str
    agreement_sha256: str

    @classmethod
    def of(cls, authorisation_id: int, locked: BalanceQuote) -> BalanceQuoteOut:
        priced, profile = locked.priced, locked.profile
        return cls(
            quote_id=locked.quote.id,
            authorisation_id=authorisation_id,
            profile=profile.code,
            carrier=priced.carrier,
            amount_fen=priced.face_value_fen,
            rate_card_version=priced.version.version,
            rate=str(priced.rate),
            rate_zhe=priced.rate.as_zhe(),
            payout_fen=priced.payout.fen,
            fee_fen=priced.fee.fen,
            settlement=profile.settlement,
            settlement_days=profile.settlement_days,
            settle_at=locked.settlement.at,
            destination=profile.destination,
            expires_at=locked.quote.expires_at,
            agreement_version=locked.agreement.version,
            agreement_sha256=locked.agreement.sha256,
        )


class SaleStepOut(BaseModel):
    step: str
    state: str = Field(description="the sale's state after the step")
    actor: str
    detail: str
    at: datetime


class LedgerTransferOut(BaseModel):
    id: str
    kind: str = Field(description="pending (the hold), post_pending, void_pending or single")
    amount_fen: int
    memo: str
    created_at: datetime


class SaleOut(BaseModel):
    id: int
    profile: str
    carrier: str
    phone_masked: str
    to_phone_masked: str = Field(description="the platform's receiving number")
    amount_fen: int
    rate: str
    payout_fen: int
    fee_fen: int
    quote_id: str
    state: str = Field(description="frozen, transferring, settling, settled or failed")
    transfer_id: str | None = Field(description="the platform's id of the carrier transfer")
    channel_ref: str | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime
    transferred_at: datetime | None
    settle_at: datetime | None
    settled_at: datetime | None
    timeline: list[SaleStepOut] | None = None
    transfers: list[LedgerTransferOut] | None = None

    @classmethod
    def of(cls, sale: BalanceSale) -> SaleOut:
        return cls(
            id=sale.id,
            profile=sale.profile_code,
            carrier=sale.carrier,
            phone_masked=mask_phone(sale.phone),
            to_phone_masked=mask_phone(sale.to_phone),
            amount_fen=sale.amount_fen,
            rate=f"{sale.rate.normalize():f}",
            payout_fen=sale.payout_fen,
            fee_fen=sale.fee_fen,
            quote_id=sale.quote_id,
            state=sale.state,
            transfer_id=sale.transfer_id,
            channel_ref=sale.channel_ref,
            failure_reason=sale.failure_reason,
            created_at=sale.created_at,
            updated_at=sale.updated_at,
            transferred_at=sale.transferred_at,
            settle_at=sale.settle_at,
            settled_at=sale.settled_at,
        )

    @classmethod
    def detailed(cls, detail: SaleDetail) -> SaleOut:
        out = cls.of(detail.sale)
        out.timeline = [
            SaleStepOut(step=e.step, state=e.state, actor=e.actor, detail=e.detail, at=e.at)
            for e in detail.timeline
        ]
        out.transfers = [
            LedgerTransferOut(
                id=t.id,
                kind=t.kind.value,
                amount_fen=t.amount,
                memo=t.memo,
                created_at=t.created_at,
            )
            for t in detail.transfers
        ]
        return out


class BalanceRateOut(BaseModel):
    profile: str
    carrier: str
    rate: str
    rate_zhe: str
    monthly_limit_fen: int
    min_amount_fen: int
    unit_fen: int

    @classmethod
    def of(cls, line: RateLine) -> BalanceRateOut:
        return cls(
            profile=line.profile_code,
            carrier=line.carrier,
            rate=str(line.rate),
            rate_zhe=line.rate.as_zhe(),
            monthly_limit_fen=line.terms.monthly_limit_fen,
            min_amount_fen=line.terms.min_amount_fen,
            unit_fen=line.terms.unit_fen,
        )
