"""Is a day a working day in mainland China, and what is the N-th working day after a date?

Sources, in order: an arrangement loaded by an operator for that year (`huafei calendar load`),
then the `chinese-calendar` package (2004–2026), then plain weekdays with a logged warning — so a
missing arrangement degrades settlement timing, never crashes it.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
from sqlalchemy import delete, extract, select
from sqlalchemy.orm import Session

from huafei.core.errors import ValidationFailed
from huafei.workdays.models import DayOverride

log = logging.getLogger(__name__)
CHINA = ZoneInfo("Asia/Shanghai")


class ArrangementInvalid(ValidationFailed):
    code = "calendar_arrangement_invalid"
    title = "The holiday arrangement file is not valid"


@dataclass(frozen=True, slots=True)
class ArrangementDay:
    day: date
    is_working_day: bool
    name: str


def parse_arrangement(text: str) -> list[ArrangementDay]:
    """CSV with a header ``date,type,name``; ``type`` is ``holiday`` or ``workday``.

    Only the exceptions are listed: weekday holidays (放假) and weekend working days (调休上班).
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if reader.fieldnames is None or {"date", "type"} - set(reader.fieldnames):
        raise ArrangementInvalid("the header must be date,type,name")
    days: list[ArrangementDay] = []
    for number, row in enumerate(reader, start=2):
        try:
            day = date.fromisoformat((row.get("date") or "").strip())
        except ValueError:
            raise ArrangementInvalid(f"line {number}: {row.get('date')!r} is not a date") from None
        kind = (row.get("type") or "").strip().lower()
        if kind not in ("holiday", "workday"):
            raise ArrangementInvalid(f"line {number}: type must be holiday or workday")
        days.append(ArrangementDay(day, kind == "workday", (row.get("name") or "").strip()))
    if not days:
        raise ArrangementInvalid("the file lists no days")
    return days


def load_arrangement(
    session: Session, days: Iterable[ArrangementDay], *, source: str, now: datetime
) -> list[int]:
    """Replace the arrangement of every year the file covers; returns those years."""
    days = list(days)
    years = sorted({d.day.year for d in days})
    session.execute(delete(DayOverride).where(extract("year", DayOverride.day).in_(years)))
    session.add_all(
        DayOverride(
            day=d.day, is_working_day=d.is_working_day, name=d.name, source=source, loaded_at=now
        )
        for d in days
    )
    session.flush()
    return years


class WorkingDays:
    """Answers for one unit of work; caches what it read."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._years: dict[int, dict[date, bool] | None] = {}

    def _overrides(self, year: int) -> dict[date, bool] | None:
        if year not in self._years:
            rows = self.session.execute(
                select(DayOverride.day, DayOverride.is_working_day).where(
                    extract("year", DayOverride.day) == year
                )
            ).all()
            self._years[year] = {row.day: row.is_working_day for row in rows} if rows else None
        return self._years[year]

    def is_working_day(self, day: date) -> bool:
        loaded = self._overrides(day.year)
        if loaded is not None:
            return loaded.get(day, day.weekday() < 5)
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:  # chinese-calendar's answer for a year it does not cover
            log.warning(
                "no holiday arrangement for this year; counting weekdays only",
                extra={"year": day.year},
            )
            return day.weekday() < 5

    def add_working_days(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start`` (``count`` 0: ``start`` itself if it is a
        working day, else the next one)."""
        day = start
        if count == 0:
            while not self.is_working_day(day):
                day += timedelta(days=1)
            return day
        remaining = count
        while remaining:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def settlement_time(self, moment: datetime, working_days: int) -> datetime:
        """T+N: 00:00 China time on the N-th working day after T.

        T is the China-local date of ``moment`` when that is a working day; a transaction on a
        weekend or holiday counts from the next working day, as banks count it.
        """
        local = moment.astimezone(CHINA).date()
        trade_day = self.add_working_days(local, 0)
        target = self.add_working_days(trade_day, working_days)
        return datetime.combine(target, time(0, 0), tzinfo=CHINA)
