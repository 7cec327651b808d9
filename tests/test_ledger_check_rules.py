"""Every rule of `huafei ledger check`, each shown failing on a ledger edited by hand.

The ledger never writes such rows; an operator with database access can. The edits below switch
off what stands in their way — the immutability triggers and the foreign keys on both backends,
and on SQLite also the CHECK constraints (PostgreSQL cannot switch those off, so the rows they
refuse are written on SQLite only) — and the check must name each broken rule and its subject.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest
from sqlalchemy.engine import make_url

from factories import make_ledger_accounts
from huafei.ledger import NewTransfer, create_transfers
from huafei.ledger.check import check_ledger
from huafei.ledger.models import TransferKind

Accounts = dict[str, int]
Edit = Callable[[Accounts], list[str]]
Expected = Callable[[Accounts], set[str]]


@pytest.fixture
def accounts(db, clock) -> Accounts:
    """A sound ledger: 1,000 fen in, a hold of 300 posted for 200, a hold of 100 voided."""
    accounts = make_ledger_accounts(db, clock.now(), "escrow", "wallet", "held", "bank")
    pending = TransferKind.PENDING
    results = db.run(
        lambda s: create_transfers(
            s,
            [
                NewTransfer("in", accounts["escrow"], accounts["wallet"], 1000),
                NewTransfer("h1", accounts["wallet"], accounts["held"], 300, kind=pending),
                NewTransfer("p1", amount=200, kind=TransferKind.POST_PENDING, pending_id="h1"),
                NewTransfer("h2", accounts["wallet"], accounts["held"], 100, kind=pending),
                NewTransfer("v2", kind=TransferKind.VOID_PENDING, pending_id="h2"),
            ],
            now=clock.now(),
        )
    )
    assert all(r.ok for r in results), [r.error for r in results]
    return accounts


def edit_by_hand(db, statements: list[str], *, checks_off: bool) -> None:
    if db.is_sqlite:
        connection = sqlite3.connect(make_url(db.url).database or "", isolation_level=None)
        try:
            connection.execute("PRAGMA foreign_keys = OFF")
            if checks_off:
                connection.execute("PRAGMA ignore_check_constraints = ON")
            for action in ("update", "delete"):
                connection.execute(f"DROP TRIGGER IF EXISTS ledger_transfers_no_{action}")
            for sql in statements:
                connection.execute(sql)
        finally:
            connection.close()
        return
    with db.engine.begin() as connection:
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for sql in statements:
            connection.exec_driver_sql(sql)


def violations(db) -> set[str]:
    with db.session() as session:
        report = check_ledger(session)
    return {str(violation) for violation in report.violations}


def sql(*statements: str) -> Edit:
    """Statements with ``{escrow}``, ``{wallet}``… standing for the accounts' ids."""
    return lambda a: [statement.format(**a) for statement in statements]


def account(a: Accounts, name: str) -> str:
    return f"account {a[name]} (test account)"


BOTH_BACKENDS: list[tuple[str, Edit, Expected]] = [
    (
        "currency",
        sql("UPDATE ledger_transfers SET currency = 'USD' WHERE id = 'in'"),
        lambda a: {"[currency] transfer in: USD transfer on CNY account"},
    ),
    (
        "unknown-account",
        sql("UPDATE ledger_transfers SET credit_account_id = 999999 WHERE id = 'in'"),
        lambda a: {
            "[account_exists] transfer in: credit_account_id 999999 is unknown",
            "[account_exists] account 999999: has transfers but does not exist",
        },
    ),
    (
        "missing-pending",
        sql("UPDATE ledger_transfers SET pending_id = 'gone' WHERE id = 'p1'"),
        lambda a: {"[pending_exists] transfer p1: refers to missing pending gone"},
    ),
    (
        "resolves-a-single-transfer",
        sql("UPDATE ledger_transfers SET pending_id = 'in' WHERE id = 'p1'"),
        lambda a: {"[pending_kind] transfer p1: resolves in, which is not pending"},
    ),
    (
        "other-accounts-than-the-pending",
        sql("UPDATE ledger_transfers SET debit_account_id = {escrow} WHERE id = 'p1'"),
        lambda a: {"[pending_accounts] transfer p1: accounts differ from pending h1"},
    ),
    (
        "posts-more-than-pending",
        sql("UPDATE ledger_transfers SET amount = 400 WHERE id = 'p1'"),
        lambda a: {"[pending_amount] transfer p1: 400 fen exceeds pending 300 fen"},
    ),
    (
        "voids-a-part",
        sql("UPDATE ledger_transfers SET amount = 60 WHERE id = 'v2'"),
        lambda a: {"[pending_amount] transfer v2: releases 60 of 100 fen"},
    ),
    (
        "expiry-without-a-timeout",
        sql("UPDATE ledger_transfers SET kind = 'expire_pending' WHERE id = 'v2'"),
        lambda a: {"[expiry_after_timeout] transfer v2: expired h2 before its timeout"},
    ),
    (
        "trial-balance",
        sql(
            "UPDATE ledger_accounts SET debits_posted = debits_posted + 5 WHERE id = {escrow}",
            "UPDATE ledger_accounts SET credits_pending = 3 WHERE id = {held}",
        ),
        lambda a: {
            "[trial_balance] ledger: posted debits 1205 ≠ credits 1200",
            "[trial_balance] ledger: pending debits 0 ≠ credits 3",
            (
                f"[balance_matches_transfers] {account(a, 'escrow')}: "
                "debits_posted is 1005 fen but its transfers sum to 1000 fen (difference +5)"
            ),
        },
    ),
]

SQLITE_ONLY: list[tuple[str, Edit, Expected]] = [
    (
        "amount-not-positive",
        sql("UPDATE ledger_transfers SET amount = 0 WHERE id = 'in'"),
        lambda a: {"[amount_positive] transfer in: amount is 0 fen"},
    ),
    (
        "one-account-on-both-sides",
        sql("UPDATE ledger_transfers SET credit_account_id = {escrow} WHERE id = 'in'"),
        lambda a: {"[distinct_accounts] transfer in: debits and credits the same account"},
    ),
    (
        "overdrawn-wallet",
        sql("UPDATE ledger_accounts SET debits_posted = 5000 WHERE id = {wallet}"),
        lambda a: {
            (
                f"[debits_must_not_exceed_credits] {account(a, 'wallet')}: "
                "debits 5000 fen exceed posted credits 1000 fen"
            )
        },
    ),
    (
        "bank-paid-out-what-it-never-had",
        sql("UPDATE ledger_accounts SET credits_posted = 50 WHERE id = {bank}"),
        lambda a: {
            (
                f"[credits_must_not_exceed_debits] {account(a, 'bank')}: "
                "credits 50 fen exceed posted debits 0 fen"
            )
        },
    ),
]


def test_the_untouched_ledger_is_sound(db, accounts) -> None:
    assert violations(db) == set()


@pytest.mark.parametrize(
    ("edit", "expected"), [case[1:] for case in BOTH_BACKENDS], ids=[c[0] for c in BOTH_BACKENDS]
)
def test_an_edit_is_named(db, accounts, edit: Edit, expected: Expected) -> None:
    edit_by_hand(db, edit(accounts), checks_off=False)
    found = violations(db)
    assert expected(accounts) <= found, found


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("edit", "expected"), [case[1:] for case in SQLITE_ONLY], ids=[c[0] for c in SQLITE_ONLY]
)
def test_a_row_the_constraints_refuse_is_named(db, accounts, edit, expected) -> None:
    edit_by_hand(db, edit(accounts), checks_off=True)
    found = violations(db)
    assert expected(accounts) <= found, found
