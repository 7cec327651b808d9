"""The ledger's write path: single, linked and two-phase transfers, idempotency, typed errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from factories import make_accounts
from huafei.core.clock import FrozenClock
from huafei.core.db import Database
from huafei.ledger import (
    NewTransfer,
    balance_as_of,
    create_transfers,
    errors,
    expire_pending_transfers,
    get_account,
    pending_state,
    statement,
    transfer,
    transfer_all,
)
from huafei.ledger.models import AccountType, Transfer, TransferKind


def post(db: Database, clock: FrozenClock, *transfers: NewTransfer):
    return db.run(lambda s: create_transfers(s, list(transfers), now=clock.now()))


def balances(db: Database, account_id: int) -> tuple[int, int, int, int]:
    def read(session):
        a = get_account(session, account_id)
        return (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)

    return db.run(read)


def transfer_count(db: Database) -> int:
    return db.run(lambda s: s.scalar(select(func.count()).select_from(Transfer)))


@pytest.fixture
def accounts(db: Database, clock: FrozenClock) -> dict[str, int]:
    return make_accounts(
        db,
        clock.now(),
        escrow={"type": AccountType.ASSET},
        wallet={"type": AccountType.LIABILITY, "code": 2002, "no_overdraft": True},
        held={"type": AccountType.LIABILITY, "code": 2003, "no_overdraft": True},
        revenue={"type": AccountType.REVENUE, "code": 4001},
        usd={"type": AccountType.ASSET, "currency": "USD"},
    )


class TestSingleTransfer:
    def test_moves_posted_balances_on_both_sides(self, db, clock, accounts) -> None:
        (result,) = post(db, clock, NewTransfer("t1", accounts["escrow"], accounts["wallet"], 500))
        assert result.ok and result.created
        assert balances(db, accounts["escrow"]) == (0, 500, 0, 0)
        assert balances(db, accounts["wallet"]) == (0, 0, 0, 500)

    def test_same_id_same_content_returns_the_first_result(self, db, clock, accounts) -> None:
        new = NewTransfer("t1", accounts["escrow"], accounts["wallet"], 500, ref="order:1")
        (first,) = post(db, clock, new)
        clock.advance(seconds=5)
        (again,) = post(db, clock, new)
        assert again.ok and not again.created
        assert again.record == first.record
        assert balances(db, accounts["wallet"]) == (0, 0, 0, 500)
        assert transfer_count(db) == 1

    def test_same_id_other_content_is_a_typed_error(self, db, clock, accounts) -> None:
        post(db, clock, NewTransfer("t1", accounts["escrow"], accounts["wallet"], 500))
        (result,) = post(db, clock, NewTransfer("t1", accounts["escrow"], accounts["wallet"], 501))
        assert isinstance(result.error, errors.TransferExistsWithDifferentFields)
        assert result.error.code == "transfer_exists_with_different_fields"
        assert balances(db, accounts["wallet"]) == (0, 0, 0, 500)

    def test_same_id_twice_in_one_batch(self, db, clock, accounts) -> None:
        new = NewTransfer("t1", accounts["escrow"], accounts["wallet"], 500)
        first, second = post(db, clock, new, new)
        assert first.created and second.ok and not second.created
        assert transfer_count(db) == 1

    @pytest.mark.parametrize(
        ("make", "error"),
        [
            (lambda a: NewTransfer("x", 999_999, a["wallet"], 1), errors.AccountNotFound),
            (lambda a: NewTransfer("x", a["escrow"], a["wallet"], 0), errors.AmountMustBePositive),
            (lambda a: NewTransfer("x", a["escrow"], a["wallet"], -5), errors.AmountMustBePositive),
            (
                lambda a: NewTransfer("x", a["escrow"], a["escrow"], 5),
                errors.AccountsMustBeDifferent,
            ),
            (lambda a: NewTransfer("x", a["usd"], a["wallet"], 5), errors.CurrencyMismatch),
            (
                lambda a: NewTransfer("x", a["escrow"], a["wallet"], 5, currency="USD"),
                errors.CurrencyMismatch,
            ),
            (lambda a: NewTransfer("x", a["wallet"], a["escrow"], 5), errors.ExceedsCredits),
            (lambda a: NewTransfer("", a["escrow"], a["wallet"], 5), errors.InvalidTransferId),
            (
                lambda a: NewTransfer("x", a["escrow"], a["wallet"], 5, timeout_seconds=60),
                errors.TimeoutRequiresPending,
            ),
        ],
    )
    def test_bad_transfers_get_typed_errors_and_write_nothing(
        self, db, clock, accounts, make, error
    ) -> None:
        (result,) = post(db, clock, make(accounts))
        assert isinstance(result.error, error)
        assert result.error.code == error.code
        assert transfer_count(db) == 0
        assert balances(db, accounts["escrow"]) == (0, 0, 0, 0)
        assert balances(db, accounts["wallet"]) == (0, 0, 0, 0)

    def test_transfer_raises_the_typed_error(self, db, clock, accounts) -> None:
        with pytest.raises(errors.ExceedsCredits) as caught:
            db.run(
                lambda s: transfer(
                    s, NewTransfer("x", accounts["wallet"], accounts["escrow"], 5), now=clock.now()
                )
            )
        assert caught.value.extra["available"] == 0

    def test_a_flagged_account_can_spend_exactly_what_it_has(self, db, clock, accounts) -> None:
        post(db, clock, NewTransfer("in", accounts["escrow"], accounts["wallet"], 100))
        out, over = post(
            db,
            clock,
            NewTransfer("out", accounts["wallet"], accounts["revenue"], 100),
            NewTransfer("over", accounts["wallet"], accounts["revenue"], 1),
        )
        assert out.ok
        assert isinstance(over.error, errors.ExceedsCredits)


class TestLinkedTransfers:
    def test_all_succeed_together(self, db, clock, accounts) -> None:
        records = db.run(
            lambda s: transfer_all(
                s,
                [
                    NewTransfer("a", accounts["escrow"], accounts["wallet"], 985),
                    NewTransfer("b", accounts["escrow"], accounts["revenue"], 15),
                ],
                now=clock.now(),
            )
        )
        assert [r.id for r in records] == ["a", "b"]
        assert balances(db, accounts["escrow"]) == (0, 1000, 0, 0)

    def test_one_failure_fails_the_chain_and_writes_nothing(self, db, clock, accounts) -> None:
        results = post(
            db,
            clock,
            NewTransfer("a", accounts["escrow"], accounts["wallet"], 100, linked=True),
            NewTransfer("b", accounts["wallet"], accounts["revenue"], 500, linked=True),
            NewTransfer("c", accounts["escrow"], accounts["revenue"], 100),
            NewTransfer("d", accounts["escrow"], accounts["revenue"], 7),
        )
        assert isinstance(results[0].error, errors.LinkedTransferFailed)
        assert isinstance(results[1].error, errors.ExceedsCredits)
        assert isinstance(results[2].error, errors.LinkedTransferFailed)
        assert results[3].ok  # outside the chain
        assert balances(db, accounts["wallet"]) == (0, 0, 0, 0)
        assert balances(db, accounts["escrow"]) == (0, 7, 0, 0)
        assert transfer_count(db) == 1

    def test_a_chain_left_open_fails(self, db, clock, accounts) -> None:
        (result,) = post(
            db, clock, NewTransfer("a", accounts["escrow"], accounts["wallet"], 1, linked=True)
        )
        assert isinstance(result.error, errors.LinkedTransferFailed)
        assert transfer_count(db) == 0

    def test_transfer_all_raises_the_real_cause(self, db, clock, accounts) -> None:
        with pytest.raises(errors.ExceedsCredits):
            db.run(
                lambda s: transfer_all(
                    s,
                    [
                        NewTransfer("a", accounts["escrow"], accounts["revenue"], 1),
                        NewTransfer("b", accounts["wallet"], accounts["revenue"], 1),
                    ],
                    now=clock.now(),
                )
            )
        assert transfer_count(db) == 0


class TestTwoPhase:
    @pytest.fixture
    def funded(self, db, clock, accounts) -> dict[str, int]:
        post(db, clock, NewTransfer("fund", accounts["escrow"], accounts["wallet"], 1000))
        return accounts

    def hold(self, db, clock, accounts, amount=300, timeout=None):
        (result,) = post(
            db,
            clock,
            NewTransfer(
                "hold",
                accounts["wallet"],
                accounts["held"],
                amount,
                kind=TransferKind.PENDING,
                timeout_seconds=timeout,
            ),
        )
        assert result.ok, result.error
        return result.record

    def test_pending_reserves_against_the_limit(self, db, clock, funded) -> None:
        self.hold(db, clock, funded, amount=800)
        assert balances(db, funded["wallet"]) == (800, 0, 0, 1000)
        (over,) = post(db, clock, NewTransfer("spend", funded["wallet"], funded["revenue"], 201))
        assert isinstance(over.error, errors.ExceedsCredits)
        assert over.error.extra["available"] == 200

    def test_post_in_full(self, db, clock, funded) -> None:
        self.hold(db, clock, funded)
        (posted,) = post(
            db, clock, NewTransfer("post", kind=TransferKind.POST_PENDING, pending_id="hold")
        )
        assert posted.ok and posted.record.amount == 300
        assert balances(db, funded["wallet"]) == (0, 300, 0, 1000)
        assert balances(db, funded["held"]) == (0, 0, 0, 300)
        assert db.run(lambda s: pending_state(s, "hold")) is TransferKind.POST_PENDING

    def test_post_in_part_releases_the_rest(self, db, clock, funded) -> None:
        self.hold(db, clock, funded)
        post(
            db,
            clock,
            NewTransfer("post", amount=120, kind=TransferKind.POST_PENDING, pending_id="hold"),
        )
        assert balances(db, funded["wallet"]) == (0, 120, 0, 1000)

    def test_void_releases_everything(self, db, clock, funded) -> None:
        self.hold(db, clock, funded)
        post(db, clock, NewTransfer("void", kind=TransferKind.VOID_PENDING, pending_id="hold"))
        assert balances(db, funded["wallet"]) == (0, 0, 0, 1000)
        assert db.run(lambda s: pending_state(s, "hold")) is TransferKind.VOID_PENDING

    @pytest.mark.parametrize(
        ("first", "second", "error"),
        [
            (
                TransferKind.POST_PENDING,
                TransferKind.POST_PENDING,
                errors.PendingTransferAlreadyPosted,
            ),
            (
                TransferKind.POST_PENDING,
                TransferKind.VOID_PENDING,
                errors.PendingTransferAlreadyPosted,
            ),
            (
                TransferKind.VOID_PENDING,
                TransferKind.POST_PENDING,
                errors.PendingTransferAlreadyVoided,
            ),
        ],
    )
    def test_resolving_twice_is_refused(self, db, clock, funded, first, second, error) -> None:
        self.hold(db, clock, funded)
        post(db, clock, NewTransfer("first", kind=first, pending_id="hold"))
        before = balances(db, funded["wallet"])
        (result,) = post(db, clock, NewTransfer("second", kind=second, pending_id="hold"))
        assert isinstance(result.error, error)
        assert balances(db, funded["wallet"]) == before

    def test_post_more_than_pending_is_refused(self, db, clock, funded) -> None:
        self.hold(db, clock, funded)
        (result,) = post(
            db,
            clock,
            NewTransfer("p", amount=301, kind=TransferKind.POST_PENDING, pending_id="hold"),
        )
        assert isinstance(result.error, errors.ExceedsPendingAmount)

    def test_unknown_and_non_pending_references(self, db, clock, funded) -> None:
        (missing,) = post(
            db, clock, NewTransfer("p", kind=TransferKind.POST_PENDING, pending_id="nope")
        )
        assert isinstance(missing.error, errors.PendingTransferNotFound)
        (single,) = post(
            db, clock, NewTransfer("p", kind=TransferKind.POST_PENDING, pending_id="fund")
        )
        assert isinstance(single.error, errors.PendingTransferNotPending)

    def test_expiry_releases_and_is_safe_to_run_twice(self, db, clock, funded) -> None:
        self.hold(db, clock, funded, timeout=60)
        assert db.run(lambda s: expire_pending_transfers(s, now=clock.now())) == 0
        clock.advance(seconds=61)
        assert db.run(lambda s: expire_pending_transfers(s, now=clock.now())) == 1
        assert db.run(lambda s: expire_pending_transfers(s, now=clock.now())) == 0
        assert balances(db, funded["wallet"]) == (0, 0, 0, 1000)
        assert db.run(lambda s: pending_state(s, "hold")) is TransferKind.EXPIRE_PENDING
        (late,) = post(
            db, clock, NewTransfer("late", kind=TransferKind.POST_PENDING, pending_id="hold")
        )
        assert isinstance(late.error, errors.PendingTransferExpired)

    def test_posting_after_the_timeout_is_refused_before_the_job_runs(
        self, db, clock, funded
    ) -> None:
        self.hold(db, clock, funded, timeout=60)
        clock.advance(seconds=60)
        (result,) = post(
            db, clock, NewTransfer("p", kind=TransferKind.POST_PENDING, pending_id="hold")
        )
        assert isinstance(result.error, errors.PendingTransferExpired)
        assert balances(db, funded["wallet"]) == (300, 0, 0, 1000)


class TestReading:
    def test_balance_as_of_a_moment(self, db, clock, accounts) -> None:
        t0 = clock.now()
        post(db, clock, NewTransfer("a", accounts["escrow"], accounts["wallet"], 100))
        clock.advance(minutes=1)
        post(
            db,
            clock,
            NewTransfer("b", accounts["escrow"], accounts["wallet"], 50),
            NewTransfer("h", accounts["wallet"], accounts["held"], 30, kind=TransferKind.PENDING),
        )
        t1 = clock.now()
        clock.advance(minutes=1)
        post(db, clock, NewTransfer("v", kind=TransferKind.VOID_PENDING, pending_id="h"))
        as_of = lambda at: db.run(lambda s: balance_as_of(s, accounts["wallet"], at))
        assert as_of(t0 - timedelta(seconds=1)).credits_posted == 0
        assert as_of(t0).credits_posted == 100
        assert as_of(t1).credits_posted == 150
        assert as_of(t1).debits_pending == 30
        assert as_of(clock.now()).debits_pending == 0

    def test_statement_pages_are_stable_and_complete(self, db, clock, accounts) -> None:
        for i in range(7):
            clock.advance(seconds=1)
            post(db, clock, NewTransfer(f"s{i}", accounts["escrow"], accounts["wallet"], 10 + i))
        seen, cursor = [], None
        while True:
            page = db.run(lambda s, c=cursor: statement(s, accounts["wallet"], cursor=c, limit=3))
            seen += [line.transfer.id for line in page.lines]
            assert all(line.posted_change > 0 for line in page.lines)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == [f"s{i}" for i in range(7)]

    def test_orm_objects_in_the_session_see_new_balances(self, db, clock, accounts) -> None:
        def work(session):
            wallet = get_account(session, accounts["wallet"])
            assert wallet.balance == 0
            transfer(
                session,
                NewTransfer("a", accounts["escrow"], accounts["wallet"], 42),
                now=clock.now(),
            )
            return wallet.balance

        assert db.run(work) == 42
