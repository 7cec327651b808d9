"""The transfer batcher: many callers' transfers in few transactions, each caller its own result.

Its threads are steered through the clock it is given: a clock that holds the first batch until
the test lets it go, so what is queued meanwhile is known exactly.
"""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path

import pytest

from factories import make_ledger_accounts
from huafei.core.clock import FrozenClock
from huafei.core.db import Database
from huafei.ledger import NewTransfer, TransferResult, errors, get_account
from huafei.ledger.batcher import TransferBatcher
from waiting import wait_for


@pytest.fixture
def accounts(db: Database, clock: FrozenClock) -> dict[str, int]:
    return make_ledger_accounts(db, clock.now(), "escrow", "wallet")


def credited(db: Database, account_id: int) -> int:
    return db.run(lambda s: get_account(s, account_id).credits_posted)


class GatedClock:
    """A frozen clock whose first reading waits until the test opens the gate."""

    def __init__(self, clock: FrozenClock) -> None:
        self.clock = clock
        self.entered = threading.Event()
        self.gate = threading.Event()

    def now(self) -> datetime:
        if not self.entered.is_set():
            self.entered.set()
            assert self.gate.wait(timeout=30), "the gate was never opened"
        return self.clock.now()


def deposit(accounts: dict[str, int], n: int, amount: int = 10) -> NewTransfer:
    return NewTransfer(f"d{n}", accounts["escrow"], accounts["wallet"], amount)


def test_a_thread_batches_what_queued_while_it_was_busy(db, clock, accounts) -> None:
    gated = GatedClock(clock)
    batcher = TransferBatcher(db, gated.now, max_batch=2, threads=1)
    first = batcher.submit_future(deposit(accounts, 1))
    wait_for(gated.entered.is_set, what="the first batch to start")
    rest = [batcher.submit_future(deposit(accounts, n)) for n in (2, 3, 4)]
    stopping = threading.Thread(target=batcher.close)  # queues the stop after the transfers
    stopping.start()
    gated.gate.set()
    stopping.join(timeout=30)
    assert not stopping.is_alive()
    results: list[TransferResult] = [f.result(timeout=0) for f in [first, *rest]]
    assert [(r.id, r.created) for r in results] == [(f"d{n}", True) for n in (1, 2, 3, 4)]
    assert batcher.batches == 3  # [d1], then two at most: [d2, d3], [d4]
    assert credited(db, accounts["wallet"]) == 40


def test_each_caller_gets_its_own_result(db, clock, accounts) -> None:
    batcher = TransferBatcher(db, clock.now, threads=2)
    try:
        futures = [batcher.submit_future(deposit(accounts, n)) for n in range(20)]
        overdraft = batcher.submit_future(
            NewTransfer("over", accounts["wallet"], accounts["escrow"], 10_000)
        )
        assert all(f.result(timeout=30).created for f in futures)
        refused = overdraft.result(timeout=30)
        assert isinstance(refused.error, errors.ExceedsCredits)
    finally:
        batcher.close()
    assert credited(db, accounts["wallet"]) == 200
    assert 1 <= batcher.batches <= 21


def test_closing_idle_threads_stops_them(db, clock) -> None:
    batcher = TransferBatcher(db, clock.now, threads=2)
    batcher.close()
    assert batcher.batches == 0
    assert [t.is_alive() for t in batcher._threads] == [False, False]


def test_inline_the_owner_runs_the_batches(db, clock, accounts) -> None:
    batcher = TransferBatcher(db, clock.now, max_batch=2, inline=True)
    answers: list[TransferResult | BaseException] = []
    for n in range(5):
        batcher.submit(deposit(accounts, n), answers.append)
    assert answers == []  # nothing runs until the owner flushes
    assert batcher.flush() == 5
    assert batcher.batches == 3
    assert batcher.flush() == 0
    batcher.submit(deposit(accounts, 5), answers.append)
    batcher.close()  # inline: runs what is left
    assert [a.id for a in answers if isinstance(a, TransferResult)] == [f"d{n}" for n in range(6)]
    assert credited(db, accounts["wallet"]) == 60


def test_a_failed_transaction_reaches_every_caller(tmp_path: Path, clock) -> None:
    never_migrated = Database(f"sqlite:///{tmp_path / 'empty.sqlite3'}", retries=0)
    batcher = TransferBatcher(never_migrated, clock.now, inline=True)
    futures: list[Future[TransferResult]] = [
        batcher.submit_future(NewTransfer(f"t{n}", 1, 2, 5)) for n in range(3)
    ]
    assert batcher.flush() == 3
    for future in futures:  # the ledger writes on the driver's own cursor: the driver's error
        failure = future.exception(timeout=0)
        assert isinstance(failure, sqlite3.OperationalError)
        assert "no such table" in str(failure)
    assert batcher.batches == 0
    never_migrated.dispose()
