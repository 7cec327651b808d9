"""T+N settlement lands on the right Chinese working day, across holidays and 调休."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pytest
from typer.testing import CliRunner

from huafei.cli.main import app
from huafei.workdays.service import (
    ArrangementInvalid,
    DaySource,
    FallbackCalendar,
    WorkingDays,
    load_arrangement,
    parse_arrangement,
)

ARRANGEMENT_2027 = """date,type,name
2027-01-01,holiday,元旦
2027-02-06,workday,春节调休
2027-02-08,holiday,春节
2027-02-09,holiday,春节
"""


def days(db):
    return db.run(WorkingDays)


def test_national_day_2026_and_its_adjusted_working_days(db) -> None:
    def check(session):
        wd = WorkingDays(session)
        # Wed 30 Sep 2026 + 1 working day: 1–7 Oct are the National Day holiday.
        assert wd.add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
        assert not wd.is_working_day(date(2026, 10, 5))  # a Monday off
        assert wd.add_working_days(date(2026, 10, 9), 1) == date(2026, 10, 10)  # a 调休 Saturday
        # Sun 20 Sep 2026 is an adjusted working day
        assert wd.is_working_day(date(2026, 9, 20))
        assert wd.add_working_days(date(2026, 9, 19), 1) == date(2026, 9, 20)

    db.run(check)


def test_settlement_time_uses_the_china_date(db) -> None:
    def check(session):
        wd = WorkingDays(session)
        # 2026-09-30 17:00 UTC is already 1 October in China (a holiday): T+1 → 9 October,
        # as 8 October, the first working day, is day zero.
        moment = datetime(2026, 9, 30, 17, 0, tzinfo=UTC)
        settle = wd.settlement_time(moment, 1)
        assert settle.date() == date(2026, 10, 9)
        assert wd.settlement_time(datetime(2026, 9, 30, 3, 0, tzinfo=UTC), 1).date() == date(
            2026, 10, 8
        )
        assert settle.hour == 0

    db.run(check)


def test_new_years_day_2027_is_a_holiday_by_rule(db) -> None:
    """chinese-calendar stops at 2026: a T+1 order of Thursday 31 Dec 2026 must not settle on
    Friday 1 Jan 2027, New Year's Day, but on Monday 4 Jan."""

    def check(session):
        wd = WorkingDays(session, fallback=FallbackCalendar())
        assert wd.answer(date(2027, 1, 1)) == (False, DaySource.RULES)
        settled = wd.settlement(datetime(2026, 12, 31, 2, 0, tzinfo=UTC), 1)
        assert settled.at.date() == date(2027, 1, 4)
        assert settled.source is DaySource.RULES
        assert settled.source.fallback
        # Counted inside 2026 alone, the time is as good as the published arrangement.
        inside = wd.settlement(datetime(2026, 12, 29, 2, 0, tzinfo=UTC), 1)
        assert (inside.at.date(), inside.source) == (date(2026, 12, 30), DaySource.CALENDAR)

    db.run(check)


def test_spring_festival_2027_by_rule(db) -> None:
    """The lunar new year of 2027 falls on Saturday 6 February: the eve (Fri 5 Feb) and the
    festival days are off, and the days falling on the weekend are made up on Tue 9 and Wed 10."""

    def check(session):
        wd = WorkingDays(session, fallback=FallbackCalendar())
        for day in (5, 6, 7, 8, 9, 10):
            assert not wd.is_working_day(date(2027, 2, day)), day
        assert wd.is_working_day(date(2027, 2, 4))
        assert wd.add_working_days(date(2027, 2, 4), 1) == date(2027, 2, 11)

    db.run(check)


def test_make_up_working_days_the_rules_know(db) -> None:
    """Where the holidays package knows an arrangement's make-up working days (调休上班), the
    fallback counts them: Saturday 29 and Sunday 30 December 2001 were worked for the New Year
    holiday (a year chinese-calendar does not cover); Saturday 14 February 2026 was worked for
    the Spring Festival."""
    fallback = FallbackCalendar()

    def check(session):
        wd = WorkingDays(session, fallback=fallback)
        assert wd.answer(date(2001, 12, 29)) == (True, DaySource.RULES)
        assert wd.add_working_days(date(2001, 12, 28), 1) == date(2001, 12, 29)

    db.run(check)
    assert fallback.is_working_day(date(2026, 2, 14)) == (True, DaySource.RULES)
    assert fallback.is_working_day(date(2026, 2, 15)) == (False, DaySource.RULES)


def test_the_fallback_warns_once_per_year(db, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="huafei.workdays.service")
    fallback = FallbackCalendar()

    def check(session):
        wd = WorkingDays(session, fallback=fallback)
        # three months of 2027 and a few days of 2028 counted, in two units of work
        wd.add_working_days(date(2027, 1, 1), 60)
        WorkingDays(session, fallback=fallback).add_working_days(date(2027, 12, 20), 15)

    db.run(check)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.year for r in warnings] == [2027, 2028]  # type: ignore[attr-defined]
    assert "no published holiday arrangement for 2027" in warnings[0].getMessage()


def test_a_year_beyond_every_calendar_counts_weekdays(db) -> None:
    def check(session):
        wd = WorkingDays(session, fallback=FallbackCalendar())
        assert wd.answer(date(2101, 1, 1)) == (False, DaySource.WEEKDAYS)  # a Saturday
        assert wd.answer(date(2101, 1, 3)) == (True, DaySource.WEEKDAYS)  # a Monday
        assert wd.add_working_days(date(2101, 1, 7), 1) == date(2101, 1, 10)  # Fri → Mon
        assert wd.settlement(datetime(2101, 1, 5, tzinfo=UTC), 1).source is DaySource.WEEKDAYS

    db.run(check)


def test_loaded_arrangement_wins(db, clock) -> None:
    parsed = parse_arrangement(ARRANGEMENT_2027)
    assert db.run(lambda s: load_arrangement(s, parsed, source="test", now=clock.now())) == [2027]

    def check(session):
        wd = WorkingDays(session)
        assert not wd.is_working_day(date(2027, 1, 1))
        assert wd.is_working_day(date(2027, 2, 6))  # Saturday 调休
        assert wd.add_working_days(date(2027, 2, 5), 1) == date(2027, 2, 6)
        assert wd.add_working_days(date(2027, 2, 6), 1) == date(2027, 2, 10)
        assert wd.settlement(datetime(2027, 2, 5, tzinfo=UTC), 1).source is DaySource.ARRANGEMENT

    db.run(check)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "day,kind\n2027-01-01,holiday\n",
        "date,type\n2027-13-01,holiday\n",
        "date,type\n2027-01-01,party\n",
    ],
)
def test_bad_arrangement_files_are_refused(text: str) -> None:
    with pytest.raises(ArrangementInvalid):
        parse_arrangement(text)


def test_calendar_load_cli(db, tmp_path, monkeypatch) -> None:
    path = tmp_path / "2027.csv"
    path.write_text("\ufeff" + ARRANGEMENT_2027, encoding="utf-8")
    monkeypatch.setenv("HUAFEI_DATABASE_URL", db.url)
    result = CliRunner().invoke(app, ["calendar", "load", str(path)])
    assert result.exit_code == 0, result.output
    assert "loaded 4 days for 2027" in result.output
    assert not db.run(lambda s: WorkingDays(s).is_working_day(date(2027, 2, 9)))
