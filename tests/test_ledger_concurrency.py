"""Many processes posting at once never lose an update or overdraw a flagged account."""

from __future__ import annotations

import multiprocessing

import pytest

from factories import make_accounts
from huafei.invariants import check_everything
from huafei.ledger import get_account
from huafei.ledger.models import AccountType
from ledger_writer import write

PROCESSES = 6
PER_PROCESS = 120


@pytest.mark.slow
def test_parallel_writer_processes(db, clock) -> None:
    ids = make_accounts(
        db,
        clock.now(),
        hot={"type": AccountType.ASSET},
        sink={"type": AccountType.REVENUE, "code": 4001},
        **{
            f"w{i}": {"type": AccountType.LIABILITY, "code": 2002, "no_overdraft": True}
            for i in range(4)
        },
    )
    wallets = [ids[f"w{i}"] for i in range(4)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        outcomes = pool.starmap(
            write,
            [(db.url, n, ids["hot"], wallets, ids["sink"], PER_PROCESS) for n in range(PROCESSES)],
        )
        pool.close()  # the writers exit on their own (and save their coverage) before the end
        pool.join()

    shared_created = sum(o["shared_created"] for o in outcomes)
    assert shared_created == len(range(0, PER_PROCESS, 10))  # each shared id created exactly once

    def read(session):
        return {name: get_account(session, account_id) for name, account_id in ids.items()}

    accounts = db.run(read)
    for index, wallet in enumerate(wallets):
        credited = sum(o["credited"][wallet] for o in outcomes)
        spent = sum(o["spent"][wallet] for o in outcomes)
        if index == 0:
            credited += 7 * shared_created
        account = accounts[f"w{index}"]
        assert account.credits_posted == credited  # no lost update
        assert account.debits_posted == spent
        assert account.balance >= 0  # the flag held under concurrency
    total_in = sum(accounts[f"w{i}"].credits_posted for i in range(4))
    assert accounts["hot"].debits_posted == total_in
    assert sum(o["refused"] for o in outcomes) > 0  # the limit was really exercised
    with db.session() as session:
        report = check_everything(session)
    assert report.ok, report.render()
