"""The ledger's remaining rules: every refusal of a post, void or expiry writes nothing; accounts
that must not go below zero on the credit side; idempotent retries of timed holds; the queue of
linked chains; and what the reading functions answer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from factories import make_ledger_accounts
from huafei.core.clock import FrozenClock
from huafei.core.db import Database
from huafei.ledger import (
    MAX_ID_LENGTH,
    NewTransfer,
    TransferQueue,
    balance_as_of,
    errors,
    expire_pending_transfers,
    expiry_id,
    get_account,
    pending_state,
    statement,
)
from huafei.ledger.models import Transfer, TransferKind
from test_ledger_transfers import balances, post

POST, VOID, EXPIRE = (
    TransferKind.POST_PENDING,
    TransferKind.VOID_PENDING,
    TransferKind.EXPIRE_PENDING,
)


def transfer_ids(db: Database) -> list[str]:
    return db.run(lambda s: sorted(s.scalars(select(Transfer.id))))


@pytest.fixture
def accounts(db: Database, clock: FrozenClock) -> dict[str, int]:
    names = ("escrow", "wallet", "held", "revenue", "bank", "equity")
    return make_ledger_accounts(db, clock.now(), *names)


@pytest.fixture
def held(db, clock, accounts) -> dict[str, int]:
    """1,000 fen in the wallet, 300 of them held (``hold``, timing out after a minute)."""
    (fund, hold) = post(
        db,
        clock,
        NewTransfer("fund", accounts["escrow"], accounts["wallet"], 1000),
        NewTransfer(
            "hold",
            accounts["wallet"],
            accounts["held"],
            300,
            kind=TransferKind.PENDING,
            timeout_seconds=60,
        ),
    )
    assert fund.ok and hold.ok, (fund.error, hold.error)
    return accounts


class TestResolvingRefusals:
    """A post, void or expiry that does not fit its pending transfer is refused with a typed
    error, and nothing is written: the hold stays as it was."""

    @pytest.mark.parametrize(
        ("make", "error", "message"),
        [
            (
                lambda a: NewTransfer("x", a["wallet"], a["revenue"], 5, pending_id="hold"),
                errors.PendingTransferMismatch,
                "only post, void and expire refer to a pending id",
            ),
            (
                lambda a: NewTransfer("x", kind=POST),
                errors.PendingTransferNotFound,
                "post, void and expire need a pending id",
            ),
            (
                lambda a: NewTransfer("x", kind=EXPIRE, pending_id="hold"),
                errors.PendingTransferMismatch,
                "hold has not reached its timeout",
            ),
            (
                lambda a: NewTransfer("x", a["wallet"], a["revenue"], kind=POST, pending_id="hold"),
                errors.PendingTransferMismatch,
                "accounts differ from the pending transfer",
            ),
            (
                lambda a: NewTransfer("x", kind=VOID, pending_id="hold", currency="USD"),
                errors.PendingTransferMismatch,
                "currency differs from the pending transfer",
            ),
            (
                lambda a: NewTransfer("x", kind=POST, pending_id="hold", timeout_seconds=30),
                errors.TimeoutRequiresPending,
                "only pending transfers time out",
            ),
            (
                lambda a: NewTransfer("x", amount=0, kind=POST, pending_id="hold"),
                errors.AmountMustBePositive,
                "amount 0 fen is not positive",
            ),
            (
                lambda a: NewTransfer("x", amount=100, kind=VOID, pending_id="hold"),
                errors.ExceedsPendingAmount,
                "void and expire release the full pending amount",
            ),
        ],
        ids=[
            "single-with-pending-id",
            "post-without-pending-id",
            "expiry-before-the-timeout",
            "post-on-other-accounts",
            "void-in-another-currency",
            "post-with-a-timeout",
            "post-of-nothing",
            "void-of-a-part",
        ],
    )
    def test_is_a_typed_error_and_writes_nothing(self, db, clock, held, make, error, message):
        before = balances(db, held["wallet"]), balances(db, held["held"])
        (result,) = post(db, clock, make(held))
        assert isinstance(result.error, error)
        assert result.error.code == error.code
        assert result.error.detail == message
        assert (balances(db, held["wallet"]), balances(db, held["held"])) == before
        assert transfer_ids(db) == ["fund", "hold"]
        assert db.run(lambda s: pending_state(s, "hold")) is TransferKind.PENDING

    def test_a_hold_without_a_timeout_never_expires(self, db, clock, accounts) -> None:
        post(
            db,
            clock,
            NewTransfer("fund", accounts["escrow"], accounts["wallet"], 100),
            NewTransfer(
                "open", accounts["wallet"], accounts["held"], 10, kind=TransferKind.PENDING
            ),
        )
        clock.advance(days=365)
        assert db.run(lambda s: expire_pending_transfers(s, now=clock.now())) == 0
        (expiry,) = post(db, clock, NewTransfer("x", kind=EXPIRE, pending_id="open"))
        assert isinstance(expiry.error, errors.PendingTransferMismatch)
        assert db.run(lambda s: pending_state(s, "open")) is TransferKind.PENDING

    def test_a_post_naming_the_pending_accounts_is_accepted(self, db, clock, held) -> None:
        (result,) = post(
            db,
            clock,
            NewTransfer(
                "p", held["wallet"], held["held"], 300, kind=POST, pending_id="hold", memo="paid"
            ),
        )
        assert result.ok, result.error
        assert balances(db, held["held"]) == (0, 0, 0, 300)


class TestAnAccountThatMustNotBeOverdrawn:
    """``credits_must_not_exceed_debits``: an asset such as a bank account cannot pay out more
    than came in, pending payments included."""

    def test_pays_out_at_most_what_it_holds(self, db, clock, accounts) -> None:
        bank, equity = accounts["bank"], accounts["equity"]
        post(db, clock, NewTransfer("capital", bank, equity, 1000))
        (over,) = post(db, clock, NewTransfer("out", accounts["revenue"], bank, 1001))
        assert isinstance(over.error, errors.ExceedsDebits)
        assert over.error.extra == {"account_id": bank, "available": 1000}
        assert balances(db, bank) == (0, 1000, 0, 0)

    def test_pending_payments_count_and_posting_one_is_allowed(self, db, clock, accounts) -> None:
        bank, equity, revenue = accounts["bank"], accounts["equity"], accounts["revenue"]
        post(db, clock, NewTransfer("capital", bank, equity, 1000))
        (pending,) = post(
            db, clock, NewTransfer("pay", revenue, bank, 600, kind=TransferKind.PENDING)
        )
        assert pending.ok
        assert db.run(lambda s: get_account(s, bank).available) == 400
        (over,) = post(db, clock, NewTransfer("more", revenue, bank, 401))
        assert isinstance(over.error, errors.ExceedsDebits)
        assert over.error.extra["available"] == 400
        (posted,) = post(db, clock, NewTransfer("paid", kind=POST, pending_id="pay"))
        assert posted.ok, posted.error
        assert balances(db, bank) == (0, 1000, 0, 600)
        assert db.run(lambda s: get_account(s, bank).available) == 400


class TestIdempotentHolds:
    def test_a_retried_timed_hold_returns_the_stored_one(self, db, clock, held) -> None:
        clock.advance(seconds=10)
        retry = NewTransfer(
            "hold", held["wallet"], held["held"], 300, kind=TransferKind.PENDING, timeout_seconds=60
        )
        (again,) = post(db, clock, retry)
        assert again.ok and not again.created
        assert again.record.timeout_at == again.record.created_at + timedelta(seconds=60)
        assert balances(db, held["wallet"]) == (300, 0, 0, 1000)

    def test_a_retry_with_another_timeout_is_refused(self, db, clock, held) -> None:
        retry = NewTransfer(
            "hold", held["wallet"], held["held"], 300, kind=TransferKind.PENDING, timeout_seconds=90
        )
        (again,) = post(db, clock, retry)
        assert isinstance(again.error, errors.TransferExistsWithDifferentFields)
        assert balances(db, held["wallet"]) == (300, 0, 0, 1000)


class TestTransferQueue:
    def test_chains_are_created_together_each_all_or_none(self, db, clock, accounts) -> None:
        escrow, wallet, revenue = accounts["escrow"], accounts["wallet"], accounts["revenue"]
        queue = TransferQueue()
        queue.add_chain([])
        assert len(queue) == 0
        queue.add_chain(
            [NewTransfer("a", escrow, wallet, 90), NewTransfer("b", escrow, revenue, 10)]
        )
        queue.add_chain([NewTransfer("c", escrow, wallet, 5)])
        assert len(queue) == 3
        records = db.run(lambda s: queue.flush(s, now=clock.now()))
        assert [r.id for r in records] == ["a", "b", "c"]
        assert len(queue) == 0
        assert db.run(lambda s: queue.flush(s, now=clock.now())) == []
        assert balances(db, wallet) == (0, 0, 0, 95)

    def test_a_failed_chain_raises_and_its_unit_of_work_writes_nothing(
        self, db, clock, accounts
    ) -> None:
        queue = TransferQueue()
        queue.add_chain([NewTransfer("ok", accounts["escrow"], accounts["revenue"], 1)])
        queue.add_chain([NewTransfer("bad", accounts["wallet"], accounts["revenue"], 1)])
        with pytest.raises(errors.ExceedsCredits):
            db.run(lambda s: queue.flush(s, now=clock.now()))
        assert transfer_ids(db) == []


class TestReading:
    def test_an_unknown_account_is_a_typed_error(self, db, clock) -> None:
        with pytest.raises(errors.AccountNotFound) as caught:
            db.run(lambda s: balance_as_of(s, 987_654, clock.now()))
        assert caught.value.extra == {"account_id": 987_654}
        assert caught.value.status == 404
        with pytest.raises(errors.AccountNotFound):
            db.run(lambda s: statement(s, 987_654))

    def test_pending_state_of_what_is_not_a_hold(self, db, clock, held) -> None:
        assert db.run(lambda s: pending_state(s, "no such transfer")) is None
        assert db.run(lambda s: pending_state(s, "fund")) is None
        assert db.run(lambda s: pending_state(s, "hold")) is TransferKind.PENDING

    def test_statement_lines_of_a_hold_and_its_post_within_a_window(self, db, clock, held) -> None:
        start = clock.now()
        clock.advance(seconds=1)
        post(db, clock, NewTransfer("part", amount=120, kind=POST, pending_id="hold"))
        clock.advance(seconds=1)
        post(db, clock, NewTransfer("later", held["escrow"], held["wallet"], 7))
        end = clock.now()

        def lines(since=None, until=None):
            page = db.run(lambda s: statement(s, held["wallet"], since=since, until=until))
            return [
                (line.transfer.id, line.side, line.posted_change, line.pending_change)
                for line in page.lines
            ]

        assert lines() == [
            ("fund", "credit", 1000, 0),
            ("hold", "debit", 0, 300),
            ("part", "debit", -120, -120),
            ("later", "credit", 7, 0),
        ]
        assert lines(since=start + timedelta(seconds=1), until=end) == [
            ("part", "debit", -120, -120)
        ]
        assert [line[0] for line in lines(until=start + timedelta(seconds=1))] == ["fund", "hold"]


class TestExpiry:
    def test_a_hold_with_the_longest_id_expires_under_a_hashed_id(
        self, db, clock, accounts
    ) -> None:
        long_id = "h" * MAX_ID_LENGTH
        short_id = "h" * (MAX_ID_LENGTH - len("expire:"))
        post(db, clock, NewTransfer("fund", accounts["escrow"], accounts["wallet"], 100))
        for pending in (long_id, short_id):
            (hold,) = post(
                db,
                clock,
                NewTransfer(
                    pending,
                    accounts["wallet"],
                    accounts["held"],
                    10,
                    kind=TransferKind.PENDING,
                    timeout_seconds=5,
                ),
            )
            assert hold.ok, hold.error
        clock.advance(seconds=5)
        assert db.run(lambda s: expire_pending_transfers(s, now=clock.now())) == 2
        assert expiry_id(short_id) == f"expire:{short_id}"
        assert expiry_id(long_id).startswith("expire:")
        assert len(expiry_id(long_id)) <= MAX_ID_LENGTH
        assert set(transfer_ids(db)) == {
            "fund",
            long_id,
            short_id,
            expiry_id(long_id),
            expiry_id(short_id),
        }
        assert db.run(lambda s: pending_state(s, long_id)) is EXPIRE
        assert balances(db, accounts["wallet"]) == (0, 0, 0, 100)
