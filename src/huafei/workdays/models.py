"""Loaded State Council holiday arrangements for years the calendar package does not cover."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, String
from sqlalchemy.orm import Mapped, mapped_column

from huafei.core.db import Base, UTCDateTime


class DayOverride(Base):
    """One day of an arrangement: a holiday on a weekday, or a working day on a weekend."""

    __tablename__ = "workday_overrides"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_working_day: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(255), default="")
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
