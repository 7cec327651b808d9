"""Orders (one per card), their batches and their timeline."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from huafei.core.db import Base, BigIntPK, ExactDecimal, UTCDateTime


class OrderState(enum.StrEnum):
    SUBMITTED = "submitted"
    """Stored and checked; waiting for the risk decision."""
    REVIEW = "review"
    """Held for a risk officer (待重审)."""
    BLOCKED = "blocked"
    """Refused by risk control; final."""
    QUEUED = "queued"
    """Waiting for the carrier channel."""
    CONSUMING = "consuming"
    """Handed to the channel; waiting for its result."""
    SUCCEEDED = "succeeded"
    """Consumed at the declared face value."""
    FACE_VALUE_MISMATCH = "face_value_mismatch"
    """Consumed, but worth another face value (面值不符); settled at the actual value."""
    CONFLICT = "conflict"
    """The channel answered under another reference than the one it accepted the card with
    (it lost its record of the consumption, say): held for an operator to settle or fail after
    checking with the channel. Never failed on its own: the card may well have been consumed."""
    FAILED = "failed"
    """Not consumable (wrong PIN, used, expired, refused, channel gave up); final."""
    SETTLING = "settling"
    """Credited to the pending wallet; becomes available at the profile's settlement time."""
    SETTLED = "settled"
    """Available in the wallet; final."""
    CANCELLED = "cancelled"
    """Withdrawn by the seller before consumption; final."""
    EXPIRED = "expired"
    """Not sent before its quote's lock ran out while held; final."""

    @property
    def final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset(
    {
        OrderState.BLOCKED,
        OrderState.FAILED,
        OrderState.SETTLED,
        OrderState.CANCELLED,
        OrderState.EXPIRED,
    }
)

#: Every allowed transition; anything else is refused by the state machine.
TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    OrderState.SUBMITTED: frozenset({OrderState.REVIEW, OrderState.BLOCKED, OrderState.QUEUED,
                                     OrderState.CANCELLED}),
    OrderState.REVIEW: frozenset({OrderState.QUEUED, OrderState.BLOCKED, OrderState.CANCELLED,
                                  OrderState.EXPIRED}),
    OrderState.QUEUED: frozenset({OrderState.CONSUMING, OrderState.CANCELLED, OrderState.FAILED,
                                  OrderState.EXPIRED, OrderState.REVIEW}),
    OrderState.CONSUMING: frozenset({OrderState.SUCCEEDED, OrderState.FACE_VALUE_MISMATCH,
                                     OrderState.FAILED, OrderState.CONFLICT}),
    OrderState.CONFLICT: frozenset({OrderState.SUCCEEDED, OrderState.FACE_VALUE_MISMATCH,
                                    OrderState.FAILED}),
    OrderState.SUCCEEDED: frozenset({OrderState.SETTLING}),
    OrderState.FACE_VALUE_MISMATCH: frozenset({OrderState.SETTLING}),
    OrderState.SETTLING: frozenset({OrderState.SETTLED}),
}  # fmt: skip

ACTIVE_STATES = tuple(
    s.value
    for s in OrderState
    if s not in (OrderState.FAILED, OrderState.CANCELLED, OrderState.EXPIRED, OrderState.BLOCKED)
)


class OrderBatch(Base):
    """One submission: one or many cards of one carrier and face value at one locked quote."""

    __tablename__ = "order_batches"
    __table_args__ = (Index("ix_order_batches_owner_created", "owner_ref", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    owner_ref: Mapped[str] = mapped_column(String(64))
    profile_code: Mapped[str] = mapped_column(String(32))
    carrier: Mapped[str] = mapped_column(String(8))
    face_value_fen: Mapped[int] = mapped_column(BigInteger)
    lane: Mapped[str] = mapped_column(String(8))
    quote_id: Mapped[str] = mapped_column(ForeignKey("quotes.id"))
    agreement_acceptance_id: Mapped[int] = mapped_column(ForeignKey("agreement_acceptances.id"))
    card_count: Mapped[int] = mapped_column(Integer)
    rejected_lines: Mapped[int] = mapped_column(Integer, default=0)
    ip: Mapped[str] = mapped_column(String(64), default="")
    device_id: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Order(Base):
    """One recharge card handed in for recycling."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(
            "state IN ('submitted','review','blocked','queued','consuming','succeeded',"
            "'face_value_mismatch','conflict','failed','settling','settled','cancelled','expired')",
            name="state_known",
        ),
        # The same card (carrier + serial + PIN, as a keyed hash) is in at most one live order.
        Index(
            "uq_orders_live_fingerprint",
            "fingerprint",
            unique=True,
            sqlite_where=text("state NOT IN ('failed','cancelled','expired','blocked')"),
            postgresql_where=text("state NOT IN ('failed','cancelled','expired','blocked')"),
        ),
        Index("ix_orders_fingerprint", "fingerprint"),
        Index("ix_orders_owner_created", "owner_ref", "created_at"),
        Index("ix_orders_state", "state"),
        Index("ix_orders_consumption", "consumption_id", unique=True),
        # The workers' lost-callback checks: consuming orders by when they are due.
        Index(
            "ix_orders_check_due",
            "check_at",
            sqlite_where=text("state = 'consuming'"),
            postgresql_where=text("state = 'consuming'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("order_batches.id"))
    owner_ref: Mapped[str] = mapped_column(String(64))
    line: Mapped[int] = mapped_column(Integer, default=1)
    profile_code: Mapped[str] = mapped_column(String(32))
    carrier: Mapped[str] = mapped_column(String(8))
    face_value_fen: Mapped[int] = mapped_column(BigInteger)
    lane: Mapped[str] = mapped_column(String(8))
    serial: Mapped[str] = mapped_column(String(32))
    pin_enc: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(24))
    rate_version_id: Mapped[int] = mapped_column(ForeignKey("rate_card_versions.id"))
    rate: Mapped[Decimal] = mapped_column(ExactDecimal())
    quoted_payout_fen: Mapped[int] = mapped_column(BigInteger)
    actual_face_value_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    payout_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    fee_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    failure_reason: Mapped[str | None] = mapped_column(String(64), default=None)
    consumption_id: Mapped[str] = mapped_column(String(64))
    channel_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    send_attempts: Mapped[int] = mapped_column(Integer, default=0)
    ip: Mapped[str] = mapped_column(String(64), default="")
    device_id: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: while consuming: when to ask the channel if no result has come (the lost-callback net),
    #: and the pause before the time after that (doubling, capped)
    check_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    check_every_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    settle_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: which calendar computed ``settle_at`` (``workdays.DaySource``); a fallback's time moves
    #: when the year's arrangement is loaded. NULL: settled at once, or computed before 0014.
    settle_calendar: Mapped[str | None] = mapped_column(String(16), default=None)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    @property
    def order_state(self) -> OrderState:
        return OrderState(self.state)


class OrderEvent(Base):
    """One transition of an order's state machine: when, who, why."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order", "order_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(255), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime())


def consumption_id_for(order_id: int) -> str:
    """The id an order's card carries at its channel (set when a worker first hands it over)."""
    return f"hf{order_id}"
