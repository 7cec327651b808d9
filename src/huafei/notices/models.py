"""The notices inbox: one row per notice, for an owner (``seller:42``) or a staff role."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from huafei.core.db import Base, BigIntPK, UTCDateTime


class Notice(Base):
    __tablename__ = "notices"
    __table_args__ = (
        Index("ix_notices_owner_time", "owner_ref", "created_at"),
        # The workers' SMS queue: notices whose text is due.
        Index(
            "ix_notices_sms_due",
            "sms_due_at",
            sqlite_where=text("sms_due_at IS NOT NULL"),
            postgresql_where=text("sms_due_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    #: who reads it: ``seller:42``, or a staff inbox such as ``staff:finance``
    owner_ref: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    #: what it is about (``withdrawal:17``), for a link and for de-duplication by readers
    ref: Mapped[str | None] = mapped_column(String(120), default=None)
    read: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: the SMS copy: when it is (next) due — null when none is wanted or it is done — how many
    #: times it was tried, and when it went out
    sms_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    sms_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sms_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class NoticePreference(Base):
    """An owner's choice of SMS for one kind of notice (absent: the kind's default)."""

    __tablename__ = "notice_preferences"

    owner_ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    sms: Mapped[bool] = mapped_column(Boolean)
