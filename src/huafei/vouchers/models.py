"""Vouchers and the requests that make them.

A voucher is written once and never changed: the database refuses an UPDATE or DELETE (a
trigger, like the ledger's transfers), and its ``sha256`` over the canonical JSON ``body`` tells
a row edited around the trigger. A request is the outbox row written in the same transaction as
the final state of its subject; the worker turns requests into vouchers and deletes them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from huafei.core.db import Base, BigIntPK, UTCDateTime


class Voucher(Base):
    """One issued voucher: the canonical JSON document and its SHA-256."""

    __tablename__ = "vouchers"
    __table_args__ = (
        # One voucher per subject, whatever retries or duplicate requests happen.
        UniqueConstraint("subject", "subject_id"),
        Index("ix_vouchers_owner_ref", "owner_ref"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    #: ``CO20261125000042``: the kind's prefix, the Beijing date of completion, the subject id
    number: Mapped[str] = mapped_column(String(32), unique=True)
    #: printed on the voucher beside the number; both are needed to look it up (the document
    #: holds it too, but a verification must not depend on the bytes it checks)
    check_code: Mapped[str] = mapped_column(String(16))
    #: where the subject's id lives (``order``, ``withdrawal``): the API path that serves it
    subject: Mapped[str] = mapped_column(String(24))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    #: what the voucher records (``card_order``, ``withdrawal``)
    kind: Mapped[str] = mapped_column(String(24))
    owner_ref: Mapped[str] = mapped_column(String(64))
    #: the canonical JSON document (docs/vouchers.md), byte for byte as hashed
    body: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())


class VoucherRequest(Base):
    """A voucher to issue (the outbox): written with the subject's final state, deleted once
    the voucher exists; a failed attempt is tried again later (``due_at``)."""

    __tablename__ = "voucher_requests"
    __table_args__ = (Index("ix_voucher_requests_due", "due_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(24))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(255), default=None)
