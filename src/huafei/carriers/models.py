"""The carrier inbox: every callback a channel delivered, once, whatever it retried."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from huafei.carriers.gateway import Carrier, ConsumptionResult, ConsumptionStatus
from huafei.core.db import Base, BigIntPK, UTCDateTime

_STATUSES = ",".join(f"'{status.value}'" for status in ConsumptionStatus)
_CARRIERS = ",".join(f"'{carrier.value}'" for carrier in Carrier)


class CarrierNotification(Base):
    """A verified callback, stored before anything acts on it.

    Unique on ``(carrier, notification_id)``: a redelivered notification is an insert that does
    nothing. The rows without ``handled_at`` are the workers' queue; ``handled_at`` is set in the
    transaction that applied the result.
    """

    __tablename__ = "carrier_inbox"
    __table_args__ = (
        UniqueConstraint("carrier", "notification_id"),
        CheckConstraint(f"carrier IN ({_CARRIERS})", name="carrier_known"),
        CheckConstraint(f"status IN ({_STATUSES})", name="status_known"),
        Index("ix_carrier_inbox_consumption", "consumption_id"),
        # The workers' queue: what is not handled yet.
        Index(
            "ix_carrier_inbox_unhandled",
            "id",
            sqlite_where=text("handled_at IS NULL"),
            postgresql_where=text("handled_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    carrier: Mapped[str] = mapped_column(String(8))
    notification_id: Mapped[str] = mapped_column(String(200))
    consumption_id: Mapped[str] = mapped_column(String(64))
    channel_ref: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[str] = mapped_column(String(16))
    actual_face_value_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    reason: Mapped[str | None] = mapped_column(String(200), default=None)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: the signed body as received, kept as evidence of what the channel said
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    def to_result(self) -> ConsumptionResult:
        return ConsumptionResult(
            consumption_id=self.consumption_id,
            status=ConsumptionStatus(self.status),
            channel_ref=self.channel_ref,
            actual_face_value_fen=self.actual_face_value_fen,
            reason=self.reason,
            notification_id=self.notification_id,
            occurred_at=self.occurred_at,
        )
