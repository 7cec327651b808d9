"""The operator CLI: migrate, demo data once, bench."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from huafei.cli.main import app

runner = CliRunner()


def test_migrate_then_demo_data_once(tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("HUAFEI_DATABASE_URL", url)
    monkeypatch.setenv("HUAFEI_LOG_LEVEL", "WARNING")
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    first = runner.invoke(app, ["demo-data"])
    assert first.exit_code == 0 and "demo data loaded" in first.output
    second = runner.invoke(app, ["demo-data"])
    assert "already present" in second.output
    check = runner.invoke(app, ["ledger", "check"])
    assert check.exit_code == 0, check.output


def test_bench_ledger_writes_figures(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HUAFEI_LOG_LEVEL", "WARNING")
    out = tmp_path / "ledger.json"
    result = runner.invoke(
        app,
        [
            "bench", "ledger", "--clients", "16", "--seconds", "1",
            "--database-url", f"sqlite:///{tmp_path / 'bench.sqlite3'}", "--json", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["transfers"] > 0
    assert figures["failed"] == 0
    assert figures["ledger_check_ok"] is True
    assert figures["latency_p99_ms"] >= figures["latency_p50_ms"] > 0


def test_bench_orders_drives_the_whole_pipeline(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HUAFEI_LOG_LEVEL", "WARNING")
    out = tmp_path / "orders.json"
    result = runner.invoke(
        app,
        [
            "bench", "orders", "--clients", "2", "--seconds", "1", "--workers", "1",
            "--servers", "2", "--rate", "20", "--cards-per-request", "2",
            "--database-url", f"sqlite:///{tmp_path / 'bench.sqlite3'}", "--json", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["servers"] == 2
    # The offered load is paced: about 20 cards in the one second, not as many as fit.
    assert 0 < figures["orders_submitted"] <= 30
    assert figures["orders_settled"] == figures["orders_submitted"]
    assert figures["ledger_check_ok"] is True
