"""Escrow segregation: escrow covers every wallet, is checked, measured, watched, and platform
revenue leaves it only by an explicit sweep."""

from __future__ import annotations

import uuid

import pytest
from typer.testing import CliRunner

from huafei.cli.main import app
from huafei.jobs import service as jobs
from huafei.ledger import NewTransfer, transfer
from huafei.ledger.chart import Code, ensure_platform_accounts
from huafei.payouts.escrow import escrow_position
from payouts_harness import running_platform

SELLER = "seller:31"
runner = CliRunner()


@pytest.fixture
def platform(db, clock, tmp_path):
    with running_platform(db, clock, tmp_path) as running:
        yield running


def pay_out(platform, amount: str) -> dict:
    card = platform.add_card(SELLER)
    withdrawal = platform.withdraw(SELLER, card["id"], amount).json()
    platform.worker.run_until_idle()
    return platform.wait_status(SELLER, withdrawal["id"], "paid")


def leak_from_escrow(platform, fen: int) -> None:
    """What a bug would do: move client money out of escrow without a sweep."""
    now = platform.container.clock.now()

    def work(session) -> None:
        accounts = ensure_platform_accounts(session, now=now)
        transfer(
            session,
            NewTransfer(
                id=f"leak:{uuid.uuid4().hex}",
                debit_account_id=accounts[Code.OWN_FUNDS].id,
                credit_account_id=accounts[Code.ESCROW].id,
                amount=fen,
            ),
            now=now,
        )

    platform.db.run(work)


def test_fees_stay_in_escrow_until_swept(platform) -> None:
    platform.fund(SELLER, 100_000)
    pay_out(platform, "300")
    escrow = platform.http.get("/api/v1/finance/escrow", headers=platform.staff_headers(3)).json()
    assert escrow == {
        "escrow_fen": 100_000 - 30_000,
        "wallets_fen": 100_000 - 30_000 - 200,
        "margin_fen": 200,
        "covered": True,
    }
    metrics = platform.http.get("/metrics").text
    assert "huafei_escrow_margin_fen 200.0" in metrics
    assert "huafei_wallets_total_fen 69800.0" in metrics

    too_much = platform.http.post(
        "/api/v1/finance/escrow/sweeps",
        json={"amount": "2.01"},
        headers=platform.staff_headers(3, key="s-0"),
    )
    assert too_much.status_code == 409
    assert too_much.json()["code"] == "sweep_refused"
    swept = platform.http.post(
        "/api/v1/finance/escrow/sweeps", json={}, headers=platform.staff_headers(3, key="s-1")
    )
    assert swept.status_code == 201, swept.text
    assert swept.json()["amount_fen"] == 200
    assert swept.json()["operator_id"] == platform.staff_id(3)
    replay = platform.http.post(
        "/api/v1/finance/escrow/sweeps", json={}, headers=platform.staff_headers(3, key="s-1")
    )
    assert replay.json() == swept.json()
    assert (
        platform.http.get("/api/v1/finance/escrow", headers=platform.staff_headers(3)).json()[
            "margin_fen"
        ]
        == 0
    )
    platform.assert_ledger_sound()


def test_sweep_from_the_command_line(platform, monkeypatch) -> None:
    platform.fund(SELLER, 100_000)
    pay_out(platform, "100")
    monkeypatch.setenv("HUAFEI_DATABASE_URL", platform.db.url)
    monkeypatch.setenv("HUAFEI_LOG_LEVEL", "WARNING")
    result = runner.invoke(app, ["sweep-revenue", "--operator", "4", "--amount", "1.50"])
    assert result.exit_code == 0, result.output
    assert "swept 1.50 CNY" in result.output
    refused = runner.invoke(app, ["sweep-revenue", "--operator", "4", "--amount", "1"])
    assert refused.exit_code == 2
    with platform.db.session() as session:
        assert escrow_position(session).margin_fen == 50
    check = runner.invoke(app, ["ledger", "check"])
    assert check.exit_code == 0, check.output
    assert "margin 50 fen" in check.output


def test_a_breach_fails_the_check_and_alerts_finance_once(platform, monkeypatch, clock) -> None:
    platform.fund(SELLER, 100_000)
    leak_from_escrow(platform, 1_000)
    monkeypatch.setenv("HUAFEI_DATABASE_URL", platform.db.url)
    monkeypatch.setenv("HUAFEI_LOG_LEVEL", "CRITICAL")
    check = runner.invoke(app, ["ledger", "check"])
    assert check.exit_code == 1
    assert "[escrow_covers_wallets]" in check.output
    assert "short by 1000 fen" in check.output
    assert "huafei_escrow_margin_fen -1000.0" in platform.http.get("/metrics").text

    def watch() -> None:
        platform.db.run(
            lambda s: jobs.enqueue(s, "payouts.escrow_watch", now=clock.now(), dedupe_key=None)
        )
        platform.worker.run_until_idle()

    watch()
    watch()
    alerts = platform.http.get(
        "/api/v1/notices", headers=platform.owner_headers("seller:31")
    ).json()
    assert all(n["kind"] != "escrow_alert" for n in alerts)  # sellers never see it
    from huafei.notices.service import FINANCE_INBOX, list_notices

    with platform.db.session() as session:
        finance = list_notices(session, FINANCE_INBOX)
    assert [n.title for n in finance] == ["备付金不足警报"]
    # Finance tops escrow up from own funds; the next watch says it is covered again.
    now = clock.now()

    def top_up(session) -> None:
        accounts = ensure_platform_accounts(session, now=now)
        transfer(
            session,
            NewTransfer(
                id="top-up-1",
                debit_account_id=accounts[Code.ESCROW].id,
                credit_account_id=accounts[Code.OWN_FUNDS].id,
                amount=1_000,
            ),
            now=now,
        )

    platform.db.run(top_up)
    watch()
    with platform.db.session() as session:
        finance = list_notices(session, FINANCE_INBOX)
    assert [n.title for n in finance] == ["备付金已恢复", "备付金不足警报"]
    assert runner.invoke(app, ["ledger", "check"]).exit_code == 0
