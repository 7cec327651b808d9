"""Stripe-style idempotency keys: replay the first response, refuse a reused key."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from factories import make_accounts
from huafei.core.idempotency import (
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    run_idempotent,
)
from huafei.ledger import NewTransfer, transfer
from huafei.ledger.errors import ExceedsCredits
from huafei.ledger.models import AccountType, Transfer


@pytest.fixture
def accounts(db, clock):
    return make_accounts(
        db,
        clock.now(),
        escrow={"type": AccountType.ASSET},
        wallet={"type": AccountType.LIABILITY, "code": 2002, "no_overdraft": True},
    )


def pay(db, clock, accounts, key, body=b'{"amount": 100}', amount=100, counter=None):
    def handler(session):
        if counter is not None:
            counter.append(1)
        record = transfer(
            session,
            NewTransfer(
                f"pay:{len(counter or [])}:{key}", accounts["escrow"], accounts["wallet"], amount
            ),
            now=clock.now(),
        )
        return 201, {"transfer": record.id}

    return run_idempotent(
        db,
        clock,
        principal="seller:1",
        key=key,
        method="POST",
        path="/pay",
        body=body,
        handler=handler,
    )


def transfers(db) -> int:
    return db.run(lambda s: s.scalar(select(func.count()).select_from(Transfer)))


def test_same_key_same_body_replays_the_first_response(db, clock, accounts) -> None:
    calls: list[int] = []
    first = pay(db, clock, accounts, "k1", counter=calls)
    second = pay(db, clock, accounts, "k1", counter=calls)
    assert first.status_code == 201
    assert not first.replayed
    assert second.replayed
    assert second.body == first.body
    assert calls == [1]
    assert transfers(db) == 1


def test_same_key_other_body_is_refused(db, clock, accounts) -> None:
    pay(db, clock, accounts, "k1")
    with pytest.raises(IdempotencyKeyReused):
        pay(db, clock, accounts, "k1", body=b'{"amount": 101}')


def test_key_is_required(db, clock, accounts) -> None:
    with pytest.raises(IdempotencyKeyRequired):
        pay(db, clock, accounts, None)


def test_business_errors_are_stored_and_their_effects_rolled_back(db, clock, accounts) -> None:
    def handler(session):
        transfer(
            session, NewTransfer("in", accounts["escrow"], accounts["wallet"], 5), now=clock.now()
        )
        transfer(
            session, NewTransfer("out", accounts["wallet"], accounts["escrow"], 50), now=clock.now()
        )
        return 201, {}

    def call():
        return run_idempotent(
            db,
            clock,
            principal="seller:1",
            key="k",
            method="POST",
            path="/x",
            body=b"{}",
            handler=handler,
        )

    first = call()
    assert first.status_code == 422
    assert first.body["code"] == ExceedsCredits.code
    assert transfers(db) == 0  # the first transfer was rolled back with the failure
    again = call()
    assert again.replayed
    assert again.body == first.body


def test_concurrent_first_requests_run_once(db, clock, accounts) -> None:
    calls: list[int] = []
    results = []

    def worker():
        results.append(pay(db, clock, accounts, "race", counter=calls))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert transfers(db) == 1
    assert len({str(r.body) for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
