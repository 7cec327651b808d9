"""Small platform-wide tables that belong to no domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, Session, mapped_column

from huafei.core.db import Base, BigIntPK, UTCDateTime


class SystemFlag(Base):
    """Named one-off facts about this installation (e.g. when demo data was loaded)."""

    __tablename__ = "system_flags"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


def get_flag(session: Session, key: str) -> str | None:
    flag = session.get(SystemFlag, key)
    return flag.value if flag else None


def set_flag(session: Session, key: str, value: str, now: datetime) -> None:
    flag = session.get(SystemFlag, key)
    if flag is None:
        session.add(SystemFlag(key=key, value=value, updated_at=now))
    else:
        flag.value = value
        flag.updated_at = now
    session.flush()


class IdempotencyRecord(Base):
    """The first response to a money-moving request, replayed for retries with the same key."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("principal", "key"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    principal: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
