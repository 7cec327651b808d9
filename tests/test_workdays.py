"""T+N settlement lands on the right Chinese working day, across holidays and 调休."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pytest
from typer.testing import CliRunner

from huafei.cli.main import app
from huafei.workdays.service import (
    ArrangementInvalid,
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


def test_a_year_without_data_falls_back_to_weekdays_with_a_warning(db, caplog) -> None:
    caplog.set_level(logging.WARNING)

    def check(session):
        wd = WorkingDays(session)
        assert wd.add_working_days(date(2027, 2, 5), 1) == date(2027, 2, 8)  # Fri → Mon

    db.run(check)
    assert "no holiday arrangement" in caplog.text


def test_loaded_arrangement_wins(db, clock) -> None:
    parsed = parse_arrangement(ARRANGEMENT_2027)
    assert db.run(lambda s: load_arrangement(s, parsed, source="test", now=clock.now())) == [2027]

    def check(session):
        wd = WorkingDays(session)
        assert not wd.is_working_day(date(2027, 1, 1))
        assert wd.is_working_day(date(2027, 2, 6))  # Saturday 调休
        assert wd.add_working_days(date(2027, 2, 5), 1) == date(2027, 2, 6)
        assert wd.add_working_days(date(2027, 2, 6), 1) == date(2027, 2, 10)

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
