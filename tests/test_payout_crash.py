"""A worker process killed (SIGKILL) between handing a payout to the rail and recording the
answer: the payout is made exactly once and the hold is never lost. Real processes on
PostgreSQL: the platform served by uvicorn, workers started as `python -m huafei worker`."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from huafei.core.clock import SystemClock
from huafei.ledger import pending_state, transfers_by_ref
from huafei.ledger.models import TransferKind
from huafei.payouts.service.holds import hold_id
from live import HuafeiProcess
from payouts_harness import REAL_NAME, icbc_card, running_platform
from waiting import wait_for

SELLER = "seller:61"


def start_worker(platform, tmp_path: Path, name: str) -> HuafeiProcess:
    env = {
        "HUAFEI_DATABASE_URL": platform.db.url,
        "HUAFEI_PUBLIC_BASE_URL": platform.base_url,
        "HUAFEI_WORKER_LEASE_SECONDS": "2",
        "HUAFEI_PAYOUT_POLL_SECONDS": "1",
        "HUAFEI_SANDBOX_DIR": str(tmp_path / "worker-sandbox"),
        "HUAFEI_LOG_LEVEL": "WARNING",
    }
    return HuafeiProcess("worker", env=env, log=tmp_path / f"{name}.log")


def status(platform, withdrawal_id: int) -> str:
    return str(platform.withdrawal(SELLER, withdrawal_id)["status"])


@pytest.mark.slow
def test_sigkill_between_send_and_record_pays_once(db, tmp_path) -> None:
    if db.is_sqlite:
        pytest.skip("concurrent worker processes are a PostgreSQL deployment")
    with running_platform(db, SystemClock(), tmp_path, sandbox_rail_settle_seconds=0.5) as platform:
        platform.fund(SELLER, 100_000)
        card = platform.add_card(SELLER)
        # The rail records the payout but answers late, and its callback is lost: only a query
        # can tell what happened.
        platform.switch("timeout", delay=5)
        platform.switch("lost_result")
        withdrawal = platform.withdraw(SELLER, card["id"], "300").json()

        first = start_worker(platform, tmp_path, "first")
        try:
            wait_for(platform.rail_payouts, what="the rail to record the payout", timeout=30)
            assert status(platform, withdrawal["id"]) == "sending"
        finally:
            first.kill()

        with db.session() as session:
            assert pending_state(session, hold_id(withdrawal["id"])) is TransferKind.PENDING
        assert platform.balances(SELLER)["held_fen"] == 30_200  # the hold survived the crash

        second = start_worker(platform, tmp_path, "second")
        try:
            wait_for(
                lambda: status(platform, withdrawal["id"]) == "paid",
                what="the second worker to find the payout paid",
                timeout=60,
            )
        finally:
            second.kill()

        (payout,) = platform.rail_payouts()
        assert payout["paid"] is True
        assert payout["submissions"] == 1  # the second worker asked; it did not send again
        assert payout["callbacks_delivered"] == 0
        balances = platform.balances(SELLER)
        assert balances["available_fen"] == 100_000 - 30_200
        assert balances["held_fen"] == 0

    with db.session() as session:
        moves = transfers_by_ref(session, withdrawal["payout_id"])
    assert sorted(t.id.rsplit(":", 1)[1] for t in moves) == sorted(
        ["hold", "fee-hold", "post", "fee", "payout"]
    )
    platform.assert_ledger_sound()


def start_rails(port: int, tmp_path: Path, *, settle_seconds: float) -> HuafeiProcess:
    """The payout rails' sandboxes as a process of their own (`huafei sandbox serve --rails`)."""
    env = {
        "HUAFEI_SANDBOX_DIR": str(tmp_path / "rails"),
        "HUAFEI_SANDBOX_RAIL_SETTLE_SECONDS": str(settle_seconds),
        "HUAFEI_LOG_LEVEL": "WARNING",
    }
    args = ["sandbox", "serve", "--no-carriers", "--rails", "--port", str(port)]
    process = HuafeiProcess(*args, env=env, log=tmp_path / "rails.log")
    process.wait_until_answering(f"http://127.0.0.1:{port}/healthz")
    return process


@pytest.mark.slow
def test_a_rail_killed_with_a_payout_in_flight_keeps_it_and_pays_once(
    db, tmp_path, held_port
) -> None:
    """SIGKILL the rail's own process after it accepted a payout: restarted, it still has the
    payout (its reference, its state), settles it and calls back; the platform pays once."""
    port = held_port
    rails = f"http://127.0.0.1:{port}/sandbox/rails"
    first = start_rails(port, tmp_path, settle_seconds=60)
    second = None
    try:
        with running_platform(db, SystemClock(), tmp_path, payout_rail_url=rails) as platform:
            platform.fund(SELLER, 100_000)
            account_no = icbc_card()
            card = platform.add_card(SELLER, account_no)
            withdrawal = platform.withdraw(SELLER, card["id"], "300").json()
            platform.worker.run_until_idle()
            (accepted,) = httpx.get(f"{rails}/bank/_control/payouts").json()
            assert (accepted["status"], accepted["submissions"]) == ("processing", 1)
            assert status(platform, withdrawal["id"]) == "sent"

            first.kill()
            second = start_rails(port, tmp_path, settle_seconds=0.2)
            (kept,) = httpx.get(f"{rails}/bank/_control/payouts").json()
            assert kept["rail_ref"] == accepted["rail_ref"]

            def paid() -> bool:
                platform.worker.run_until_idle()
                return status(platform, withdrawal["id"]) == "paid"

            wait_for(paid, what="the restarted rail's payout to be paid", timeout=30)
            (payout,) = httpx.get(f"{rails}/bank/_control/payouts").json()
            assert (payout["paid"], payout["submissions"]) == (True, 1)
            assert payout["callbacks_delivered"] == 1
            assert platform.balances(SELLER)["held_fen"] == 0
        state = (tmp_path / "rails" / "rails-state" / "bank.jsonl").read_text()
        assert account_no not in state  # masked, as on the statement
        assert REAL_NAME not in state
    finally:
        for process in (first, second):
            if process is not None:
                process.stop()  # graceful, so a measured process saves its coverage
