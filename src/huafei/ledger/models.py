"""Ledger tables. Transfers are immutable: a database trigger refuses UPDATE and DELETE."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from huafei.core.db import Base, BigIntPK, UTCDateTime


class AccountType(enum.StrEnum):
    """The five kinds of account; the first two are debit-normal."""

    ASSET = "asset"
    EXPENSE = "expense"
    LIABILITY = "liability"
    EQUITY = "equity"
    REVENUE = "revenue"

    @property
    def debit_normal(self) -> bool:
        return self in (AccountType.ASSET, AccountType.EXPENSE)


class TransferKind(enum.StrEnum):
    SINGLE = "single"
    """Posted at once."""
    PENDING = "pending"
    """Reserves the amount (a hold, 冻结) until posted, voided or expired."""
    POST_PENDING = "post_pending"
    """Posts all or part of a pending transfer; the rest is released."""
    VOID_PENDING = "void_pending"
    """Releases a pending transfer in full."""
    EXPIRE_PENDING = "expire_pending"
    """Written by the expiry job when a pending transfer's timeout passes."""

    @property
    def resolves_pending(self) -> bool:
        return self in RESOLVING_KINDS

    @property
    def moves_posted(self) -> bool:
        return self in (TransferKind.SINGLE, TransferKind.POST_PENDING)


RESOLVING_KINDS = frozenset(
    {TransferKind.POST_PENDING, TransferKind.VOID_PENDING, TransferKind.EXPIRE_PENDING}
)


class Account(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("code", "owner_ref", "currency"),
        CheckConstraint(
            "type IN ('asset','expense','liability','equity','revenue')", name="type_known"
        ),
        CheckConstraint(
            "NOT (debits_must_not_exceed_credits AND credits_must_not_exceed_debits)",
            name="one_limit_flag",
        ),
        CheckConstraint(
            "debits_pending >= 0 AND debits_posted >= 0 "
            "AND credits_pending >= 0 AND credits_posted >= 0",
            name="balances_not_negative",
        ),
        # Defence in depth: the service checks these first and answers with a typed error.
        CheckConstraint(
            "NOT debits_must_not_exceed_credits "
            "OR debits_pending + debits_posted <= credits_posted",
            name="debits_within_credits",
        ),
        CheckConstraint(
            "NOT credits_must_not_exceed_debits "
            "OR credits_pending + credits_posted <= debits_posted",
            name="credits_within_debits",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    code: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    owner_ref: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    debits_must_not_exceed_credits: Mapped[bool] = mapped_column(Boolean, default=False)
    credits_must_not_exceed_debits: Mapped[bool] = mapped_column(Boolean, default=False)
    debits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    debits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def account_type(self) -> AccountType:
        return AccountType(self.type)

    @property
    def balance(self) -> int:
        """Posted balance on the account's normal side, in fen."""
        if self.account_type.debit_normal:
            return self.debits_posted - self.credits_posted
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        """Posted balance less what pending transfers hold against it."""
        if self.account_type.debit_normal:
            return self.debits_posted - self.credits_posted - self.credits_pending
        return self.credits_posted - self.debits_posted - self.debits_pending


class Transfer(Base):
    __tablename__ = "ledger_transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="distinct_accounts"),
        CheckConstraint(
            "kind IN ('single','pending','post_pending','void_pending','expire_pending')",
            name="kind_known",
        ),
        CheckConstraint(
            "(kind IN ('post_pending','void_pending','expire_pending')) = (pending_id IS NOT NULL)",
            name="pending_id_iff_resolving",
        ),
        Index("ix_ledger_transfers_debit_time", "debit_account_id", "created_at"),
        Index("ix_ledger_transfers_credit_time", "credit_account_id", "created_at"),
        # Partial indexes: most transfers have no timeout and many no pending id, and an index
        # that skips them makes every insert cheaper.
        Index(
            "ix_ledger_transfers_timeout",
            "timeout_at",
            sqlite_where=text("timeout_at IS NOT NULL"),
            postgresql_where=text("timeout_at IS NOT NULL"),
        ),
        Index(
            "uq_ledger_transfers_pending_id",
            "pending_id",
            unique=True,
            sqlite_where=text("pending_id IS NOT NULL"),
            postgresql_where=text("pending_id IS NOT NULL"),
        ),
        Index(
            "ix_ledger_transfers_ref",
            "ref",
            sqlite_where=text("ref IS NOT NULL"),
            postgresql_where=text("ref IS NOT NULL"),
        ),
    )

    #: Insertion order. Rows are stored in this order, so an insert appends instead of landing at
    #: a random place in the table; the caller's id has its own unique index.
    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(80), unique=True)
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    code: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16))
    # At most one transfer resolves a pending transfer: the unique index makes a double post,
    # a post after a void, or a second expiry impossible even under concurrency.
    pending_id: Mapped[str | None] = mapped_column(ForeignKey("ledger_transfers.id"), default=None)
    timeout_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    ref: Mapped[str | None] = mapped_column(String(120), default=None)
    memo: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: sha-256 prefix of the immutable fields (see ``service.transfer_digest``).
    digest: Mapped[str] = mapped_column(String(32))
