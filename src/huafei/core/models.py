"""Small platform-wide tables that belong to no domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from huafei.core.db import Base, UTCDateTime


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
