"""Bad input to any `huafei` command: one line on stderr, exit status 2, never a traceback."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from huafei.cli.main import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HUAFEI_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("HUAFEI_LOG_LEVEL", "WARNING")
    (tmp_path / "bad-date.csv").write_text("date,type,name\n2027-13-01,holiday,x\n")
    (tmp_path / "bad-type.csv").write_text("date,type,name\n2027-01-01,party,x\n")
    latin1 = "date,type,name\n2027-01-01,holiday,\xe9t\xe9\n".encode("latin-1")
    (tmp_path / "latin1.csv").write_bytes(latin1)
    (tmp_path / "empty.csv").write_text("")
    return tmp_path


BAD_INPUT = [
    (["calendar", "load", "{dir}/bad-date.csv"], "'2027-13-01' is not a date"),
    (["calendar", "load", "{dir}/bad-type.csv"], "type must be holiday or workday"),
    (["calendar", "load", "{dir}/latin1.csv"], "not UTF-8"),
    (["calendar", "load", "{dir}/empty.csv"], "header"),
    (["calendar", "load", "{dir}/missing.csv"], "does not exist"),
    (["calendar", "load", "{dir}"], "is a directory"),
    (["reconcile", "--rail", "swift", "--date", "2026-11-25"], "'swift' is not one of"),
    (["reconcile", "--rail", "bank", "--date", "25/11/2026"], "does not match"),
    (["reconcile", "--rail", "bank", "--date", "2026-02-30"], "does not match"),
    (
        ["reconcile", "--rail", "bank", "--date", "2026-11-25", "--file", "{dir}/no.csv"],
        "does not exist",
    ),
    (["sweep-revenue", "--operator", "4", "--amount", "1,5.5.5"], "not an amount"),
    (["sweep-revenue", "--operator", "4", "--amount", "-3"], "not an amount"),
    (["sweep-revenue", "--operator", "many"], "valid integer"),
    (["sweep-revenue", "--operator", "0"], "greater than or equal to 1"),
    (["sandbox", "issue-cards", "--carrier", "cmcc", "--face", "7"], "sells no card"),
    (["sandbox", "issue-cards", "--carrier", "xx", "--face", "100"], "'xx' is not one of"),
    (["sandbox", "issue-cards", "--carrier", "cmcc", "--face", "-100"], "greater than"),
    (["serve", "--port", "70000"], "less than or equal to 65535"),
    (["bench", "ledger", "--clients", "0"], "greater than or equal to 1"),
    (
        ["staff", "create", "--username", "x1x", "--role", "king", "--password", "x" * 20],
        "unknown_role",
    ),
    (["ledger", "no-such-command"], "No such command"),
    (["--no-such-option"], "No such option"),
]


def _case_id(value: object) -> str | None:
    return " ".join(value)[:40] if isinstance(value, list) else None


@pytest.mark.parametrize(("argv", "says"), BAD_INPUT, ids=_case_id)
def test_bad_input_is_one_line_and_exit_2(env, argv, says) -> None:
    result = runner.invoke(app, [arg.replace("{dir}", str(env)) for arg in argv])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.output
    assert says in lines[0]
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_a_setting_that_does_not_parse(env, monkeypatch) -> None:
    monkeypatch.setenv("HUAFEI_PORT", "eighty")
    result = runner.invoke(app, ["ledger", "check"])
    assert result.exit_code == 2
    expected = (
        "error: invalid setting: HUAFEI_PORT: Input should be a valid integer, "
        "unable to parse string as an integer"
    )
    assert result.output.strip().splitlines() == [expected]


def test_a_database_that_is_not_migrated_is_one_line_and_exit_1(env) -> None:
    result = runner.invoke(app, ["ledger", "check"])
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: database: no such table")
    assert "huafei migrate" in line


def test_the_installed_command_prints_one_line(env) -> None:
    """The issue's own example, through the real `huafei` executable."""
    huafei = Path(sys.executable).parent / "huafei"
    done = subprocess.run(  # noqa: S603 - our own command
        [str(huafei), "calendar", "load", str(env / "bad-date.csv")],
        capture_output=True,
        text=True,
        env=os.environ,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "error: line 2: '2027-13-01' is not a date (calendar_arrangement_invalid)\n"
    )


def test_a_group_called_alone_shows_its_commands_and_exit_2(env) -> None:
    result = runner.invoke(app, ["ledger"])
    assert result.exit_code == 2
    assert "check" in result.output
    assert "expire" in result.output
    assert "Traceback" not in result.output


def test_a_database_url_of_no_known_kind_is_an_invalid_setting(env, monkeypatch) -> None:
    monkeypatch.setenv("HUAFEI_DATABASE_URL", "nosuchdb://somewhere/huafei")
    result = runner.invoke(app, ["ledger", "check"])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: invalid setting: ")
    assert "nosuchdb" in line


def test_a_database_migrated_by_a_newer_version_is_one_line_and_exit_1(env) -> None:
    """The database names a migration this version does not ship (it was migrated by a newer
    one): `huafei migrate` says so and changes nothing."""
    with sqlite3.connect(env / "cli.sqlite3") as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        connection.execute("INSERT INTO alembic_version VALUES ('9999')")
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: migrations: ")
    assert "9999" in line
    with sqlite3.connect(env / "cli.sqlite3") as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert tables == {"alembic_version", "sqlite_autoindex_alembic_version_1"}


def test_no_password_at_the_prompt_aborts_with_exit_1(env) -> None:
    result = runner.invoke(app, ["staff", "create", "--username", "admin1", "--role", "admin"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == "aborted"
