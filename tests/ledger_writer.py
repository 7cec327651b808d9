"""A writer process for the concurrency tests (imported by spawned processes)."""

from __future__ import annotations

import random

from huafei.core.clock import SystemClock
from huafei.core.db import Database
from huafei.ledger import NewTransfer, create_transfers


def write(url: str, worker: int, hot: int, wallets: list[int], sink: int, count: int) -> dict:
    """Post ``count`` transfers: deposits from the hot account to wallets, spends from wallets.

    Returns what this process saw succeed, so the parent can check that nothing was lost.
    """
    db = Database(url, retries=20, pool_size=2)
    clock = SystemClock()
    rng = random.Random(worker)
    credited = dict.fromkeys(wallets, 0)
    spent = dict.fromkeys(wallets, 0)
    refused = 0
    shared_ok = 0
    for i in range(count):
        wallet = rng.choice(wallets)
        if rng.random() < 0.55:
            new = NewTransfer(f"w{worker}:{i}", hot, wallet, rng.randint(1, 50))
        else:
            new = NewTransfer(f"w{worker}:{i}", wallet, sink, rng.randint(1, 80))
        # Every tenth request also races the other processes on one shared id.
        batch = [new]
        if i % 10 == 0:
            batch.append(NewTransfer(f"shared:{i}", hot, wallets[0], 7))
        results = db.run(lambda s, b=batch: create_transfers(s, b, now=clock.now()))
        result = results[0]
        if result.ok:
            if new.debit_account_id == hot:
                credited[wallet] += new.amount or 0
            else:
                spent[wallet] += new.amount or 0
        elif result.error is not None and result.error.code == "exceeds_credits":
            refused += 1
        else:
            raise AssertionError(f"unexpected failure: {result.error}")
        if len(results) > 1:
            if not results[1].ok:
                raise AssertionError(f"shared id failed: {results[1].error}")
            shared_ok += int(results[1].created)
    db.dispose()
    return {"credited": credited, "spent": spent, "refused": refused, "shared_created": shared_ok}
