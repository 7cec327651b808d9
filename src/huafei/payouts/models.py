"""Payout tables: methods, withdrawals and their history, the rails' inbox, reconciliation,
revenue sweeps. Money columns are BIGINT fen with a currency."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from huafei.core.db import Base, BigIntPK, UTCDateTime


class MethodKind(enum.StrEnum):
    BANK_CARD = "bank_card"
    """A mainland debit card (借记卡), paid through the bank rail."""
    ALIPAY = "alipay"
    """An Alipay account (phone or email)."""
    WECHAT = "wechat"
    """WeChat Pay balance (零钱), addressed by the user's openid."""
    ECNY = "ecny"
    """A digital RMB (数字人民币) wallet id."""
    CARRIER_WALLET = "carrier_wallet"
    """The carrier wallet (和包, 沃钱包, 翼支付) of the owner's verified phone number: added by
    the platform for the carrier-wallet destination, never typed in."""

    @property
    def rail(self) -> RailName:
        return _RAIL_OF[self]


class RailName(enum.StrEnum):
    BANK = "bank"
    ALIPAY = "alipay"
    WECHAT = "wechat"
    ECNY = "ecny"
    CARRIER_WALLET = "carrier_wallet"


_RAIL_OF = {
    MethodKind.BANK_CARD: RailName.BANK,
    MethodKind.ALIPAY: RailName.ALIPAY,
    MethodKind.WECHAT: RailName.WECHAT,
    MethodKind.ECNY: RailName.ECNY,
    MethodKind.CARRIER_WALLET: RailName.CARRIER_WALLET,
}


class MethodStatus(enum.StrEnum):
    ACTIVE = "active"
    REMOVED = "removed"


class PayoutMethod(Base):
    __tablename__ = "payout_methods"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('bank_card','alipay','wechat','ecny','carrier_wallet')", name="kind_known"
        ),
        CheckConstraint("status IN ('active','removed')", name="status_known"),
        # One active method per account and owner; the same account under many owners is
        # allowed here and is a risk signal (account farms), found by ``account_lookup``.
        Index(
            "uq_payout_methods_owner_account_active",
            "owner_ref",
            "account_lookup",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_payout_methods_owner_ref", "owner_ref"),
        Index("ix_payout_methods_account_lookup", "account_lookup"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    owner_ref: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    #: the account number, AES-GCM under the keyring (context ``payout-account``)
    account_cipher: Mapped[str] = mapped_column(Text)
    #: keyed hash of kind and account number: duplicate detection without the plain number
    account_lookup: Mapped[str] = mapped_column(String(64))
    account_masked: Mapped[str] = mapped_column(String(64))
    holder_name_cipher: Mapped[str] = mapped_column(Text)
    holder_name_masked: Mapped[str] = mapped_column(String(64))
    bank_code: Mapped[str | None] = mapped_column(String(16), default=None)
    bank_name: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[str] = mapped_column(String(16), default=MethodStatus.ACTIVE.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    @property
    def method_kind(self) -> MethodKind:
        return MethodKind(self.kind)


class WithdrawalStatus(enum.StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    """Held; waits for finance approval (over the threshold, or sent to review by risk)."""
    QUEUED = "queued"
    """Held; a send job is queued."""
    SENDING = "sending"
    """A send attempt started; whether the rail received it is unknown until it answers."""
    SENT = "sent"
    """The rail accepted the payout; waiting for its result."""
    PAID = "paid"
    """The rail paid; the hold was posted and the money left escrow."""
    FAILED = "failed"
    """The rail refused or failed; the hold was voided."""
    REJECTED = "rejected"
    """Finance rejected it; the hold was voided."""
    CANCELLED = "cancelled"
    """The owner withdrew the request before it was sent; the hold was voided."""

    @property
    def final(self) -> bool:
        return self in FINAL_STATUSES

    @property
    def in_flight(self) -> bool:
        return self in (WithdrawalStatus.SENDING, WithdrawalStatus.SENT)


FINAL_STATUSES = frozenset(
    {
        WithdrawalStatus.PAID,
        WithdrawalStatus.FAILED,
        WithdrawalStatus.REJECTED,
        WithdrawalStatus.CANCELLED,
    }
)
_STATUS_LIST = ",".join(f"'{s.value}'" for s in WithdrawalStatus)


class Withdrawal(Base):
    __tablename__ = "withdrawals"
    __table_args__ = (
        UniqueConstraint("owner_ref", "idempotency_key"),
        CheckConstraint(f"status IN ({_STATUS_LIST})", name="status_known"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("fee_fen >= 0", name="fee_not_negative"),
        Index("ix_withdrawals_owner_time", "owner_ref", "created_at"),
        Index("ix_withdrawals_status", "status"),
        Index("ix_withdrawals_rail_completed", "rail", "completed_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    #: what the rail knows it by; the rail is idempotent on it
    payout_id: Mapped[str] = mapped_column(String(32), unique=True)
    owner_ref: Mapped[str] = mapped_column(String(64))
    #: None until the first send of a carrier-wallet payout a settlement made (the send pins
    #: the wallet of the owner's phone number then: ``payouts.service.carrier_wallet``)
    method_id: Mapped[int | None] = mapped_column(ForeignKey("payout_methods.id"))
    rail: Mapped[str] = mapped_column(String(16))
    profile: Mapped[str] = mapped_column(String(32))
    #: what arrives in the payout account
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    #: charged on top of the amount, to fee revenue
    fee_fen: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(24))
    #: as long as the edge accepts (``core.idempotency.MAX_KEY_LENGTH``)
    idempotency_key: Mapped[str] = mapped_column(String(255))
    requested_by_staff_id: Mapped[int | None] = mapped_column(Integer, default=None)
    approvals_required: Mapped[int] = mapped_column(Integer, default=0)
    review_reason: Mapped[str | None] = mapped_column(String(255), default=None)
    send_attempts: Mapped[int] = mapped_column(Integer, default=0)
    rail_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    failure_code: Mapped[str | None] = mapped_column(String(64), default=None)
    failure_reason: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    @property
    def state(self) -> WithdrawalStatus:
        return WithdrawalStatus(self.status)

    @property
    def rail_name(self) -> RailName:
        return RailName(self.rail)

    @property
    def total_fen(self) -> int:
        return self.amount_fen + self.fee_fen


class WithdrawalEvent(Base):
    """Everything that happened to a withdrawal, and who did it (the four-eyes evidence)."""

    __tablename__ = "withdrawal_events"
    __table_args__ = (Index("ix_withdrawal_events_withdrawal", "withdrawal_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    withdrawal_id: Mapped[int] = mapped_column(ForeignKey("withdrawals.id"))
    event: Mapped[str] = mapped_column(String(32))
    #: ``owner``, ``staff``, ``system`` or ``rail``
    actor: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[int | None] = mapped_column(Integer, default=None)
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WithdrawalApproval(Base):
    __tablename__ = "withdrawal_approvals"
    # The database refuses a second approval by the same person, whatever the code does.
    __table_args__ = (UniqueConstraint("withdrawal_id", "staff_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    withdrawal_id: Mapped[int] = mapped_column(ForeignKey("withdrawals.id"))
    staff_id: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RailNotification(Base):
    """The inbox of the rails' signed callbacks: a duplicate or replay is inserted once."""

    __tablename__ = "rail_notifications"
    __table_args__ = (UniqueConstraint("rail", "notification_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    rail: Mapped[str] = mapped_column(String(16))
    notification_id: Mapped[str] = mapped_column(String(64))
    payout_id: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    outcome: Mapped[str | None] = mapped_column(String(32), default=None)


class ReconciliationRun(Base):
    __tablename__ = "reconciliation_runs"
    __table_args__ = (UniqueConstraint("rail", "statement_date"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    rail: Mapped[str] = mapped_column(String(16))
    statement_date: Mapped[date] = mapped_column(Date)
    #: where the statement came from: ``rail`` (fetched) or a file name
    source: Mapped[str] = mapped_column(String(255))
    statement_sha256: Mapped[str] = mapped_column(String(64))
    #: JSON: lines per category, totals of both sides, cases opened
    summary: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReconciliationLine(Base):
    __tablename__ = "reconciliation_lines"
    __table_args__ = (
        Index("ix_reconciliation_lines_run", "run_id"),
        Index("ix_reconciliation_lines_payout", "payout_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_runs.id"))
    category: Mapped[str] = mapped_column(String(32))
    payout_id: Mapped[str | None] = mapped_column(String(64), default=None)
    rail_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    withdrawal_id: Mapped[int | None] = mapped_column(Integer, default=None)
    our_amount_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    rail_amount_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    our_status: Mapped[str | None] = mapped_column(String(16), default=None)
    rail_status: Mapped[str | None] = mapped_column(String(16), default=None)
    note: Mapped[str] = mapped_column(Text, default="")
    #: a timing difference stays open until a later statement matches it
    open: Mapped[bool] = mapped_column(default=False)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    resolved_by_run_id: Mapped[int | None] = mapped_column(Integer, default=None)


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class ReconciliationCase(Base):
    """A real mismatch for finance to work, with the evidence attached."""

    __tablename__ = "reconciliation_cases"
    __table_args__ = (
        UniqueConstraint("rail", "statement_date", "category", "line_key"),
        Index("ix_reconciliation_cases_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    rail: Mapped[str] = mapped_column(String(16))
    statement_date: Mapped[date] = mapped_column(Date)
    category: Mapped[str] = mapped_column(String(32))
    #: the payout id, or the rail's reference when the line names no payout of ours
    line_key: Mapped[str] = mapped_column(String(80))
    withdrawal_id: Mapped[int | None] = mapped_column(Integer, default=None)
    #: JSON: the statement line, our withdrawal, the ledger transfers, the statement's hash
    evidence: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.OPEN.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    resolved_by_staff_id: Mapped[int | None] = mapped_column(Integer, default=None)
    resolution_note: Mapped[str | None] = mapped_column(Text, default=None)


class RevenueSweep(Base):
    """An explicit move of platform money from escrow to own funds, by a named operator."""

    __tablename__ = "revenue_sweeps"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    operator_id: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    margin_before_fen: Mapped[int] = mapped_column(BigInteger)
    transfer_id: Mapped[str] = mapped_column(String(80), unique=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
