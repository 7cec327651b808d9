"""Beijing time: statements, daily limits, ages and working days run on it (defined here only)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

#: China Standard Time has no daylight saving; a fixed offset needs no tz database.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def local_day(moment: datetime) -> date:
    return moment.astimezone(BEIJING).date()


def day_start(day: date) -> datetime:
    """00:00 Beijing time of ``day``, in UTC."""
    return datetime.combine(day, time(0), tzinfo=BEIJING).astimezone(UTC)


def day_end(day: date) -> datetime:
    return day_start(day + timedelta(days=1))
