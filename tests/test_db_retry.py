"""A unit of work that PostgreSQL picks as a deadlock's victim is run again — also when the
deadlock surfaces in the ledger's own statements (run on the driver's connection, so the error
is the driver's, not SQLAlchemy's). A chaos run found two racing withdrawals answered 500."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import make_accounts
from huafei.composition.app import create_app
from huafei.composition.container import build_container
from huafei.core.settings import Settings
from huafei.ledger import NewTransfer, get_account, transfer
from huafei.ledger.models import Account, AccountType


def test_a_deadlock_in_the_ledger_is_retried(db, clock) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite runs one writing transaction at a time: no deadlock")
    ids = make_accounts(
        db,
        clock.now(),
        a={"type": AccountType.ASSET, "code": 1001},
        b={"type": AccountType.ASSET, "code": 1002},
    )
    both_locked = threading.Barrier(2, timeout=20)
    attempts = {"a": 0, "b": 0}
    errors: list[BaseException] = []

    def first_lock_then_transfer(mine: str, other: str) -> None:
        """Lock my account, then post a transfer that needs the other one too: two of these at
        once wait for each other."""

        def work(session) -> None:
            attempts[mine] += 1
            session.scalars(select(Account).where(Account.id == ids[mine]).with_for_update()).one()
            if attempts[mine] == 1:
                both_locked.wait()
            transfer(
                session,
                NewTransfer(f"deadlock:{mine}", ids[mine], ids[other], 100),
                now=clock.now(),
            )

        try:
            db.run(work)
        except BaseException as exc:  # the test reports it below
            errors.append(exc)

    threads = [
        threading.Thread(target=first_lock_then_transfer, args=("a", "b")),
        threading.Thread(target=first_lock_then_transfer, args=("b", "a")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(attempts.values()) == [1, 2]  # one was the deadlock's victim, and ran again
    balances = db.run(lambda s: [get_account(s, ids[n]).balance for n in ("a", "b")])
    assert balances == [0, 0]  # each posted once: 100 each way


def test_a_database_that_does_not_answer_is_a_503_not_a_500() -> None:
    """PostgreSQL down (restarting, say): nothing was done, so the client may try again."""
    settings = Settings(
        database_url="postgresql://postgres@127.0.0.1:9/huafei_nowhere", db_retries=1
    )
    with TestClient(create_app(build_container(settings)), raise_server_exceptions=False) as http:
        response = http.get("/api/v1/rates", params={"profile": "third_party"})
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "database_unavailable"
    assert response.headers["retry-after"] == "2"
