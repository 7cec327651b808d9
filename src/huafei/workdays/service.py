"""Is a day a working day in mainland China, and what is the N-th working day after a date?

Sources, in order, for each year:

1. an arrangement loaded by an operator for that year (`huafei calendar load`);
2. the `chinese-calendar` package: the State Council's published arrangements (2004–2026);
3. the `holidays` package's China calendar: the statutory holidays by rule, lunar ones included
   (Spring Festival, Dragon Boat, Mid-Autumn), the days off that replace a holiday falling on a
   weekend, and the make-up working days (调休上班) it knows — a year's make-up days are only
   known once the arrangement is published, so before that every weekend is a day off;
4. plain weekdays (a year the `holidays` package does not cover either).

The last two are fallbacks: an answer from them is logged once per year and process, and a
settlement time computed from one is recorded as such, so loading the year's arrangement later
moves it (``orders.settlement.reschedule_fallback_settlements``). A missing arrangement degrades
settlement timing, never crashes it.
"""

from __future__ import annotations

import csv
import enum
import io
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import chinese_calendar
import holidays
from holidays.countries.china import China
from sqlalchemy import delete, extract, select
from sqlalchemy.orm import Session

from huafei.core.days import BEIJING, local_day
from huafei.core.errors import ValidationFailed
from huafei.workdays.models import DayOverride

log = logging.getLogger(__name__)


class DaySource(enum.StrEnum):
    """Where the answer for a day came from, strongest first."""

    ARRANGEMENT = "arrangement"
    """An arrangement an operator loaded for the year."""
    CALENDAR = "calendar"
    """The published arrangement shipped in ``chinese-calendar``."""
    RULES = "rules"
    """Fallback: the statutory holidays by rule (``holidays``); make-up working days may be
    missing."""
    WEEKDAYS = "weekdays"
    """Fallback: Monday to Friday."""

    @property
    def fallback(self) -> bool:
        """An answer from a fallback calendar, which may change when an arrangement is loaded."""
        return self in FALLBACK_SOURCES


FALLBACK_SOURCES = frozenset({DaySource.RULES, DaySource.WEEKDAYS})
_STRENGTH = {source: rank for rank, source in enumerate(DaySource)}


def weakest(sources: Iterable[DaySource]) -> DaySource:
    """The least reliable of ``sources`` (what an answer built from all of them is worth)."""
    return max(sources, key=_STRENGTH.__getitem__, default=DaySource.ARRANGEMENT)


class FallbackCalendar:
    """The fallback answers, for years without a published arrangement.

    One per process (``DEFAULT_FALLBACK``) so the warning is logged once per year, not once per
    day checked; tests build their own. Thread-safe: web and worker threads share it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._years: dict[int, holidays.HolidayBase | None] = {}

    def is_working_day(self, day: date) -> tuple[bool, DaySource]:
        """Whether ``day`` is a working day by the holiday rules (or Monday to Friday)."""
        calendar = self._calendar(day.year)
        if calendar is None:
            return day.weekday() < 5, DaySource.WEEKDAYS
        return calendar.is_working_day(day), DaySource.RULES

    def _calendar(self, year: int) -> holidays.HolidayBase | None:
        with self._lock:
            if year in self._years:
                return self._years[year]
            calendar: holidays.HolidayBase | None = None
            if China.start_year <= year <= China.end_year:
                calendar = holidays.country_holidays("CN", years=year)
                log.warning(
                    "no published holiday arrangement for %d: counting the statutory holidays "
                    "by rule, with only the make-up working days already known; load the "
                    "year's arrangement with `huafei calendar load`",
                    year,
                    extra={"year": year, "calendar": DaySource.RULES.value},
                )
            else:
                log.warning(
                    "no holiday data at all for %d: counting weekdays only",
                    year,
                    extra={"year": year, "calendar": DaySource.WEEKDAYS.value},
                )
            self._years[year] = calendar
            return calendar


DEFAULT_FALLBACK = FallbackCalendar()


class ArrangementInvalid(ValidationFailed):
    """A holiday arrangement file that cannot be loaded."""

    code = "calendar_arrangement_invalid"
    title = "The holiday arrangement file is not valid"


@dataclass(frozen=True, slots=True)
class ArrangementDay:
    """One day of a holiday arrangement: a holiday or a swapped working day."""

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


@dataclass(frozen=True, slots=True)
class SettlementTime:
    """When a payout settles and the weakest calendar that decided it."""

    at: datetime
    """00:00 China time on the settlement day."""
    source: DaySource
    """The weakest source among the days counted: a fallback means the time may move when the
    year's arrangement is loaded."""


class WorkingDays:
    """Answers for one unit of work; caches what it read."""

    def __init__(self, session: Session, *, fallback: FallbackCalendar | None = None) -> None:
        self.session = session
        self.fallback = fallback or DEFAULT_FALLBACK
        self._years: dict[int, dict[date, bool] | None] = {}
        self._uncovered: set[int] = set()  # years chinese-calendar does not cover

    def _overrides(self, year: int) -> dict[date, bool] | None:
        if year not in self._years:
            rows = self.session.execute(
                select(DayOverride.day, DayOverride.is_working_day).where(
                    extract("year", DayOverride.day) == year
                )
            ).all()
            self._years[year] = {row.day: row.is_working_day for row in rows} if rows else None
        return self._years[year]

    def answer(self, day: date) -> tuple[bool, DaySource]:
        """Whether ``day`` is a working day, and which source said so."""
        loaded = self._overrides(day.year)
        if loaded is not None:
            return loaded.get(day, day.weekday() < 5), DaySource.ARRANGEMENT
        if day.year not in self._uncovered:
            try:
                return bool(chinese_calendar.is_workday(day)), DaySource.CALENDAR
            except NotImplementedError:  # chinese-calendar's answer for a year it does not cover
                self._uncovered.add(day.year)
        return self.fallback.is_working_day(day)

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day."""
        return self.answer(day)[0]

    def _walk(self, start: date, count: int) -> tuple[date, DaySource]:
        day = start
        sources: set[DaySource] = set()

        def working(candidate: date) -> bool:
            is_working, source = self.answer(candidate)
            sources.add(source)
            return is_working

        if count == 0:
            while not working(day):
                day += timedelta(days=1)
            return day, weakest(sources)
        remaining = count
        while remaining:
            day += timedelta(days=1)
            if working(day):
                remaining -= 1
        return day, weakest(sources)

    def add_working_days(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start`` (``count`` 0: ``start`` itself if it is a
        working day, else the next one)."""
        return self._walk(start, count)[0]

    def settlement(self, moment: datetime, working_days: int) -> SettlementTime:
        """T+N: 00:00 China time on the N-th working day after T, and what that is worth.

        T is the China-local date of ``moment`` when that is a working day; a transaction on a
        weekend or holiday counts from the next working day, as banks count it.
        """
        local = local_day(moment)
        trade_day, first = self._walk(local, 0)
        target, rest = self._walk(trade_day, working_days)
        return SettlementTime(
            datetime.combine(target, time(0, 0), tzinfo=BEIJING), weakest((first, rest))
        )

    def settlement_time(self, moment: datetime, working_days: int) -> datetime:
        """``settlement(moment, working_days).at``."""
        return self.settlement(moment, working_days).at
