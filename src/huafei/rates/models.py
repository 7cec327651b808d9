"""Rates as data: profiles, rate card versions with an effective time, locked quotes,
agreement versions and their acceptances."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from huafei.core.db import Base, BigIntPK, ExactDecimal, UTCDateTime

RATE = ExactDecimal()


class Settlement(enum.StrEnum):
    REALTIME = "realtime"
    """Credited to the available wallet as soon as the card is consumed."""
    WORKING_DAYS = "working_days"
    """T+N Chinese working days; pending until then."""


class Destination(enum.StrEnum):
    """Where a profile's proceeds go when an order settles (SPEC §5); ``credit_seller`` in
    ``huafei.credit.destinations`` moves the money accordingly."""

    CASH = "cash"
    """The wallet's available balance, withdrawn by the seller to a bank card, Alipay, WeChat
    or e-CNY (the third-party model)."""
    CARRIER_WALLET = "carrier_wallet"
    """Paid out at once, by the carrier-wallet payout rail, to the wallet of the seller's
    verified phone number at its carrier (the official model)."""
    CONSUMPTION_CREDIT = "consumption_credit"
    """消费金: platform credit that tops up phone numbers at a discount and is never withdrawn
    (the social model)."""


class Lane(enum.StrEnum):
    FAST = "fast"
    NORMAL = "normal"


class ChannelProfile(Base):
    """One of the business models of SPEC §5, as data."""

    __tablename__ = "channel_profiles"
    __table_args__ = (
        CheckConstraint("settlement IN ('realtime','working_days')", name="settlement_known"),
        CheckConstraint("rate_model IN ('fixed','per_face','tiered')", name="rate_model_known"),
        CheckConstraint(
            "destination IN ('cash','carrier_wallet','consumption_credit')",
            name="destination_known",
        ),
    )

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(64))
    settlement: Mapped[str] = mapped_column(String(16))
    settlement_days: Mapped[int] = mapped_column(Integer, default=0)
    #: the share of face value kept by the platform when a rate card lists no explicit rate
    default_fee_rate: Mapped[Decimal] = mapped_column(RATE)
    single_order_limit_fen: Mapped[int] = mapped_column(BigInteger)
    #: a ``Destination``
    destination: Mapped[str] = mapped_column(String(32))
    rate_model: Mapped[str] = mapped_column(String(16))
    description_zh: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    @property
    def money_destination(self) -> Destination:
        return Destination(self.destination)


class RateCardVersion(Base):
    __tablename__ = "rate_card_versions"
    __table_args__ = (UniqueConstraint("profile_code", "version"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    profile_code: Mapped[str] = mapped_column(ForeignKey("channel_profiles.code"))
    version: Mapped[int] = mapped_column(Integer)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64), default="system")


class RateEntry(Base):
    """The payout rate (fraction of face value paid to the seller) for one card type and lane."""

    __tablename__ = "rate_entries"
    __table_args__ = (
        UniqueConstraint("version_id", "carrier", "face_value_fen", "lane"),
        CheckConstraint(
            "CAST(rate AS NUMERIC) > 0 AND CAST(rate AS NUMERIC) <= 1", name="rate_in_range"
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("rate_card_versions.id"))
    carrier: Mapped[str] = mapped_column(String(8))
    face_value_fen: Mapped[int] = mapped_column(BigInteger)
    lane: Mapped[str] = mapped_column(String(8))
    rate: Mapped[Decimal] = mapped_column(RATE)


class BalanceRate(Base):
    """The payout rate for carrier balance (话费余额) of one carrier in a rate card version: the
    fraction of the amount transferred that is paid to the seller (any amount, one rate)."""

    __tablename__ = "rate_balance_entries"
    __table_args__ = (
        UniqueConstraint("version_id", "carrier"),
        CheckConstraint(
            "CAST(rate AS NUMERIC) > 0 AND CAST(rate AS NUMERIC) <= 1", name="rate_in_range"
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("rate_card_versions.id"))
    carrier: Mapped[str] = mapped_column(String(8))
    rate: Mapped[Decimal] = mapped_column(RATE)


class VolumeTier(Base):
    """阶梯式: a seller whose settled volume this month reaches ``min_volume_fen`` gets
    ``rate_bonus`` added to the card rate."""

    __tablename__ = "rate_volume_tiers"
    __table_args__ = (UniqueConstraint("version_id", "min_volume_fen"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("rate_card_versions.id"))
    min_volume_fen: Mapped[int] = mapped_column(BigInteger)
    rate_bonus: Mapped[Decimal] = mapped_column(RATE)


class Quote(Base):
    """A rate locked for a seller's submission until ``expires_at``; orders keep its id."""

    __tablename__ = "quotes"
    __table_args__ = (Index("ix_quotes_owner_created", "owner_ref", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_ref: Mapped[str] = mapped_column(String(64))
    profile_code: Mapped[str] = mapped_column(ForeignKey("channel_profiles.code"))
    carrier: Mapped[str] = mapped_column(String(8))
    face_value_fen: Mapped[int] = mapped_column(BigInteger)
    lane: Mapped[str] = mapped_column(String(8))
    rate_version_id: Mapped[int] = mapped_column(ForeignKey("rate_card_versions.id"))
    rate: Mapped[Decimal] = mapped_column(RATE)
    payout_fen: Mapped[int] = mapped_column(BigInteger)
    fee_fen: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AgreementVersion(Base):
    """The recycling agreement (回收协议) text, kept byte for byte with its SHA-256."""

    __tablename__ = "agreement_versions"

    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AgreementAcceptance(Base):
    __tablename__ = "agreement_acceptances"
    __table_args__ = (Index("ix_agreement_acceptances_owner", "owner_ref", "accepted_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    owner_ref: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(ForeignKey("agreement_versions.version"))
    sha256: Mapped[str] = mapped_column(String(64))
    lawful_source_confirmed: Mapped[bool] = mapped_column(Boolean)
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ip: Mapped[str] = mapped_column(String(64), default="")
    device: Mapped[str] = mapped_column(String(255), default="")
