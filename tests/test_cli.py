"""The operator CLI: migrate, demo data once, bench, ledger expiry, keys."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from factories import make_accounts
from huafei.cli.main import app
from huafei.core.db import Database
from huafei.ledger import NewTransfer, pending_state, transfer
from huafei.ledger.models import AccountType, TransferKind

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


def test_bench_orders_balance_mode_sells_balance(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HUAFEI_LOG_LEVEL", "WARNING")
    out = tmp_path / "balance.json"
    result = runner.invoke(
        app,
        [
            "bench", "orders", "--balance", "--clients", "2", "--seconds", "2", "--workers", "1",
            "--database-url", f"sqlite:///{tmp_path / 'bench.sqlite3'}", "--json", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["mode"] == "balance"
    assert figures["sales_made"] > 0
    assert figures["sales_settled"] == figures["sales_made"]
    assert figures["ledger_check_ok"] is True


def test_ledger_expire_releases_holds_past_their_timeout_once(tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("HUAFEI_DATABASE_URL", url)
    monkeypatch.setenv("HUAFEI_LOG_LEVEL", "WARNING")
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    db = Database(url)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    ids = make_accounts(
        db,
        an_hour_ago,
        escrow={"type": AccountType.ASSET},
        wallet={"type": AccountType.LIABILITY, "code": 2002},
    )
    hold = NewTransfer(
        "hold", ids["escrow"], ids["wallet"], 500, kind=TransferKind.PENDING, timeout_seconds=60
    )
    db.run(lambda s: transfer(s, hold, now=an_hour_ago))
    first = runner.invoke(app, ["ledger", "expire"])
    assert (first.exit_code, first.output) == (0, "expired 1 pending transfer(s)\n")
    again = runner.invoke(app, ["ledger", "expire"])
    assert (again.exit_code, again.output) == (0, "expired 0 pending transfer(s)\n")
    assert db.run(lambda s: pending_state(s, "hold")) is TransferKind.EXPIRE_PENDING
    db.dispose()


def test_keys_generate_prints_a_new_256_bit_key(tmp_path, monkeypatch) -> None:
    first, second = (runner.invoke(app, ["keys", "generate"]) for _ in range(2))
    assert first.exit_code == second.exit_code == 0
    assert len(base64.b64decode(first.output.strip(), validate=True)) == 32
    assert first.output != second.output
