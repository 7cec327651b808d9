"""`huafei ledger check` proves the ledger sound, and names what was edited by hand."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from factories import make_accounts
from huafei.cli.main import app
from huafei.invariants import check_everything
from huafei.ledger import NewTransfer, create_transfers
from huafei.ledger.models import AccountType, TransferKind


def populate(db, clock) -> dict[str, int]:
    accounts = make_accounts(
        db,
        clock.now(),
        escrow={"type": AccountType.ASSET},
        wallet={"type": AccountType.LIABILITY, "code": 2002, "no_overdraft": True},
        held={"type": AccountType.LIABILITY, "code": 2003, "no_overdraft": True},
    )
    db.run(
        lambda s: create_transfers(
            s,
            [
                NewTransfer("in", accounts["escrow"], accounts["wallet"], 1000),
                NewTransfer(
                    "h1", accounts["wallet"], accounts["held"], 300, kind=TransferKind.PENDING
                ),
                NewTransfer("p1", amount=200, kind=TransferKind.POST_PENDING, pending_id="h1"),
                NewTransfer(
                    "h2", accounts["wallet"], accounts["held"], 100, kind=TransferKind.PENDING
                ),
            ],
            now=clock.now(),
        )
    )
    return accounts


def tamper(db, sql: str) -> None:
    """Edit a transfer the way an operator with database access could: triggers off."""
    with db.engine.begin() as connection:
        if db.is_sqlite:
            connection.exec_driver_sql("DROP TRIGGER ledger_transfers_no_update")
            connection.execute(text(sql))
        else:
            connection.exec_driver_sql("ALTER TABLE ledger_transfers DISABLE TRIGGER USER")
            connection.execute(text(sql))
            connection.exec_driver_sql("ALTER TABLE ledger_transfers ENABLE TRIGGER USER")


def test_sound_ledger_passes(db, clock) -> None:
    populate(db, clock)
    with db.session() as session:
        report = check_everything(session)
    assert report.ok, report.render()
    assert report.transfers == 4
    assert "OK" in report.render()


def test_transfers_cannot_be_updated_or_deleted(db, clock) -> None:
    populate(db, clock)
    for sql in (
        "UPDATE ledger_transfers SET amount = 1 WHERE id = 'in'",
        "DELETE FROM ledger_transfers",
    ):
        with pytest.raises(DBAPIError, match="immutable"), db.engine.begin() as connection:
            connection.execute(text(sql))


def test_an_amount_changed_by_hand_is_reported(db, clock) -> None:
    accounts = populate(db, clock)
    tamper(db, "UPDATE ledger_transfers SET amount = 1500 WHERE id = 'in'")
    with db.session() as session:
        report = check_everything(session)
    assert not report.ok
    rendered = report.render()
    assert "[digest] transfer in" in rendered
    assert f"account {accounts['wallet']}" in rendered
    assert "credits_posted is 1000 fen but its transfers sum to 1500 fen" in rendered


def test_cli_exit_codes(db, clock, monkeypatch) -> None:
    populate(db, clock)
    monkeypatch.setenv("HUAFEI_DATABASE_URL", db.url)
    monkeypatch.setenv("HUAFEI_LOG_LEVEL", "WARNING")
    runner = CliRunner()
    ok = runner.invoke(app, ["ledger", "check"])
    assert ok.exit_code == 0, ok.output
    assert "every invariant holds" in ok.output
    tamper(db, "UPDATE ledger_transfers SET amount = 250 WHERE id = 'p1'")
    bad = runner.invoke(app, ["ledger", "check"])
    assert bad.exit_code == 1
    assert "FAILED" in bad.output
    assert "transfer p1" in bad.output
