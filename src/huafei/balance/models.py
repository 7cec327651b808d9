"""Balance recycling (话费余额回收): the carrier's terms, the platform's receiving numbers, a
seller's authorisation with the carrier, and the sales with their timeline."""

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
)
from sqlalchemy.orm import Mapped, mapped_column

from huafei.core.db import Base, BigIntPK, ExactDecimal, UTCDateTime


class BalanceTerms(Base):
    """What a profile's channel lets one number transfer at a carrier (data, not code): the
    monthly cap (the official channel's ¥500), the smallest amount and the unit (whole yuan)."""

    __tablename__ = "balance_terms"
    __table_args__ = (
        CheckConstraint(
            "monthly_limit_fen >= 0 AND min_amount_fen > 0 AND unit_fen > 0", name="sizes_valid"
        ),
    )

    profile_code: Mapped[str] = mapped_column(ForeignKey("channel_profiles.code"), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(8), primary_key=True)
    monthly_limit_fen: Mapped[int] = mapped_column(BigInteger)
    min_amount_fen: Mapped[int] = mapped_column(BigInteger)
    unit_fen: Mapped[int] = mapped_column(BigInteger)


class ReceivingNumber(Base):
    """One of the platform's numbers at a carrier, which sellers' balance is transferred to."""

    __tablename__ = "balance_receiving_numbers"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    carrier: Mapped[str] = mapped_column(String(8))
    phone: Mapped[str] = mapped_column(String(11), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuthorisationState(enum.StrEnum):
    CODE_SENT = "code_sent"
    """The service password was right and the carrier texted a code; waiting for it."""
    VERIFIED = "verified"
    """The code was confirmed: the seller may query the balance, get a quote and sell, until
    ``expires_at``."""
    USED = "used"
    """A sale was made under it (one sale per authorisation)."""


class BalanceAuthorisation(Base):
    """A seller's identity with the carrier for one number: its service password (encrypted,
    kept only until the sale made under it is final or the authorisation expires) and the code
    the carrier texted."""

    __tablename__ = "balance_authorisations"
    __table_args__ = (
        CheckConstraint("state IN ('code_sent','verified','used')", name="state_known"),
        Index("ix_balance_authorisations_seller", "seller_id", "created_at"),
        Index("ix_balance_authorisations_expiry", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    seller_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("sellers.id"))
    owner_ref: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(11))
    carrier: Mapped[str] = mapped_column(String(8))
    #: the carrier came from the number's segment (not named by the seller)
    carrier_guessed: Mapped[bool] = mapped_column(Boolean)
    service_password_enc: Mapped[str | None] = mapped_column(Text, default=None)
    #: our id of the code request at the carrier
    code_request_id: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: the balance the carrier last answered, and when
    balance_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    balance_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SaleState(enum.StrEnum):
    FROZEN = "frozen"
    """The quoted payout is held in the ledger (额度冻结); the transfer is not asked for yet."""
    TRANSFERRING = "transferring"
    """The carrier was asked to transfer; its answer is awaited (or was lost: it is queried)."""
    SETTLING = "settling"
    """Transferred: the payout is in the pending wallet until the profile's settlement time."""
    SETTLED = "settled"
    """The payout is in the available wallet; final."""
    FAILED = "failed"
    """The carrier refused the transfer: the hold is released; final."""

    @property
    def final(self) -> bool:
        return self in (SaleState.SETTLED, SaleState.FAILED)


class BalanceSale(Base):
    """One sale of a number's balance: the amount transferred to a receiving number, at a
    locked quote, under an accepted agreement."""

    __tablename__ = "balance_sales"
    __table_args__ = (
        CheckConstraint(
            "state IN ('frozen','transferring','settling','settled','failed')",
            name="state_known",
        ),
        CheckConstraint("amount_fen > 0 AND payout_fen >= 0 AND fee_fen >= 0", name="amounts"),
        Index("ix_balance_sales_owner", "owner_ref", "id"),
        Index("ix_balance_sales_phone_created", "phone", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    owner_ref: Mapped[str] = mapped_column(String(64))
    seller_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("sellers.id"))
    authorisation_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("balance_authorisations.id"), unique=True
    )
    profile_code: Mapped[str] = mapped_column(String(32))
    carrier: Mapped[str] = mapped_column(String(8))
    phone: Mapped[str] = mapped_column(String(11))
    to_phone: Mapped[str] = mapped_column(String(11))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    quote_id: Mapped[str] = mapped_column(ForeignKey("quotes.id"))
    rate_version_id: Mapped[int] = mapped_column(ForeignKey("rate_card_versions.id"))
    rate: Mapped[Decimal] = mapped_column(ExactDecimal())
    payout_fen: Mapped[int] = mapped_column(BigInteger)
    fee_fen: Mapped[int] = mapped_column(BigInteger)
    agreement_acceptance_id: Mapped[int] = mapped_column(ForeignKey("agreement_acceptances.id"))
    state: Mapped[str] = mapped_column(String(16))
    #: the platform's id of the transfer at the carrier (``hfb{id}``), the same for every attempt
    transfer_id: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    channel_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    failure_reason: Mapped[str | None] = mapped_column(String(64), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: the pause before the next query of a transfer whose answer was lost (doubling, capped)
    check_every_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    ip: Mapped[str] = mapped_column(String(64), default="")
    device_id: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    transferred_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    settle_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    settle_calendar: Mapped[str | None] = mapped_column(String(16), default=None)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    @property
    def sale_state(self) -> SaleState:
        return SaleState(self.state)

    @property
    def ref(self) -> str:
        """The reference of the sale's ledger transfers and limit usage."""
        return f"balance:{self.id}"


class BalanceSaleEvent(Base):
    """One step of a sale's timeline: the carrier identity, the quote, the agreement, the
    freeze, the transfer, the settlement."""

    __tablename__ = "balance_sale_events"
    __table_args__ = (Index("ix_balance_sale_events_sale", "sale_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    sale_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("balance_sales.id"))
    step: Mapped[str] = mapped_column(String(24))
    state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(String(255), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime())
