"""Consumption-credit tables: the top-ups (充话费) bought with credit. The credit itself is a
ledger account per owner (``ledger.chart.Code.CREDIT_AVAILABLE``); nothing here holds a balance."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from huafei.core.db import Base, BigIntPK, ExactDecimal, UTCDateTime


class TopUpStatus(enum.StrEnum):
    PENDING = "pending"
    """The price is held on the credit; the carrier's answer is not in (or was lost: the check
    job asks the carrier)."""
    SUCCEEDED = "succeeded"
    """The carrier topped the number up; the held price was spent."""
    REFUSED = "refused"
    """The carrier refused; the held price is credit again."""

    @property
    def final(self) -> bool:
        return self is not TopUpStatus.PENDING


class CreditTopUp(Base):
    """A top-up of a phone number paid with consumption credit, at the disclosed discount."""

    __tablename__ = "credit_topups"
    __table_args__ = (
        UniqueConstraint("owner_ref", "idempotency_key"),
        CheckConstraint("status IN ('pending','succeeded','refused')", name="status_known"),
        CheckConstraint("face_value_fen > 0", name="face_value_positive"),
        CheckConstraint("price_fen > 0 AND price_fen <= face_value_fen", name="price_within_face"),
        Index("ix_credit_topups_owner_time", "owner_ref", "created_at"),
        Index("ix_credit_topups_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    #: what the carrier knows it by; the carrier is idempotent on it
    topup_id: Mapped[str] = mapped_column(String(32), unique=True)
    owner_ref: Mapped[str] = mapped_column(String(64))
    carrier: Mapped[str] = mapped_column(String(8))
    #: the number topped up, AES-GCM under the keyring (context ``topup-phone``)
    phone_cipher: Mapped[str] = mapped_column(Text)
    phone_masked: Mapped[str] = mapped_column(String(16))
    #: what the number receives
    face_value_fen: Mapped[int] = mapped_column(BigInteger)
    #: what the credit pays: face value less the discount
    price_fen: Mapped[int] = mapped_column(BigInteger)
    discount_rate: Mapped[Decimal] = mapped_column(ExactDecimal())
    status: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    send_attempts: Mapped[int] = mapped_column(Integer, default=0)
    channel_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    failure_code: Mapped[str | None] = mapped_column(String(64), default=None)
    failure_reason: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    @property
    def state(self) -> TopUpStatus:
        return TopUpStatus(self.status)

    @property
    def discount_fen(self) -> int:
        return self.face_value_fen - self.price_fen
