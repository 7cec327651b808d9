"""The chart of accounts: what each account code means and how it behaves.

Codes follow the usual numbering: 1xxx assets, 2xxx liabilities (what we owe clients),
3xxx equity, 4xxx revenue, 5xxx expenses. Client-owned accounts carry the owner's reference
(``seller:42``); platform accounts belong to ``platform``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from huafei.ledger.accounts import create_account
from huafei.ledger.models import Account, AccountType

PLATFORM = "platform"


@dataclass(frozen=True, slots=True)
class AccountSpec:
    code: int
    type: AccountType
    name: str
    #: a liability that must never go below zero (a wallet cannot owe us)
    no_overdraft: bool = False
    #: an asset that must never go below zero (a bank account cannot be overdrawn)
    no_negative_asset: bool = False


class Code(enum.IntEnum):
    ESCROW = 1001
    """Client money (备付金) held in the segregated escrow bank account."""
    OWN_FUNDS = 1002
    """The platform's own bank account, apart from client money."""
    CARRIER_RECEIVABLE = 1101
    """What carrier channels owe us for consumed cards until they settle."""
    CARRIER_BALANCE = 1102
    """Carrier balance (话费余额) sellers transferred to the platform's receiving numbers: an
    inventory of credit, until it is sold on."""
    EQUITY = 3001
    """Owner's capital; the source of the platform's own funds."""
    WALLET_PENDING = 2001
    """A client's proceeds not yet settled (T+1, T+N)."""
    WALLET_AVAILABLE = 2002
    """A client's money that can be withdrawn."""
    WALLET_HELD = 2003
    """A client's money held for a withdrawal in flight."""
    CREDIT_AVAILABLE = 2101
    """A client's consumption credit (消费金): spent on top-ups, never withdrawn."""
    CREDIT_HELD = 2102
    """A client's consumption credit held for a top-up in flight."""
    SPREAD_REVENUE = 4001
    """The difference between face value and what the seller is paid."""
    FEE_REVENUE = 4002
    """Withdrawal and service fees."""
    CHANNEL_EXPENSE = 5001
    """What carrier and payout channels charge us."""
    DISCOUNT_EXPENSE = 5002
    """The discount given when consumption credit buys a top-up (the platform pays it)."""


CHART: dict[Code, AccountSpec] = {
    Code.ESCROW: AccountSpec(Code.ESCROW, AccountType.ASSET, "Escrow (client money)"),
    Code.OWN_FUNDS: AccountSpec(Code.OWN_FUNDS, AccountType.ASSET, "Own funds"),
    Code.CARRIER_RECEIVABLE: AccountSpec(
        Code.CARRIER_RECEIVABLE, AccountType.ASSET, "Carrier receivable"
    ),
    Code.CARRIER_BALANCE: AccountSpec(
        Code.CARRIER_BALANCE, AccountType.ASSET, "Carrier balance inventory"
    ),
    Code.EQUITY: AccountSpec(Code.EQUITY, AccountType.EQUITY, "Owner's capital"),
    Code.WALLET_PENDING: AccountSpec(
        Code.WALLET_PENDING, AccountType.LIABILITY, "Wallet: pending", no_overdraft=True
    ),
    Code.WALLET_AVAILABLE: AccountSpec(
        Code.WALLET_AVAILABLE, AccountType.LIABILITY, "Wallet: available", no_overdraft=True
    ),
    Code.WALLET_HELD: AccountSpec(
        Code.WALLET_HELD, AccountType.LIABILITY, "Wallet: held", no_overdraft=True
    ),
    Code.SPREAD_REVENUE: AccountSpec(Code.SPREAD_REVENUE, AccountType.REVENUE, "Spread revenue"),
    Code.FEE_REVENUE: AccountSpec(Code.FEE_REVENUE, AccountType.REVENUE, "Fee revenue"),
    Code.CHANNEL_EXPENSE: AccountSpec(Code.CHANNEL_EXPENSE, AccountType.EXPENSE, "Channel expense"),
    Code.CREDIT_AVAILABLE: AccountSpec(
        Code.CREDIT_AVAILABLE, AccountType.LIABILITY, "Consumption credit", no_overdraft=True
    ),
    Code.CREDIT_HELD: AccountSpec(
        Code.CREDIT_HELD, AccountType.LIABILITY, "Consumption credit: held", no_overdraft=True
    ),
    Code.DISCOUNT_EXPENSE: AccountSpec(
        Code.DISCOUNT_EXPENSE, AccountType.EXPENSE, "Top-up discounts"
    ),
}

WALLET_CODES = (Code.WALLET_PENDING, Code.WALLET_AVAILABLE, Code.WALLET_HELD)
CREDIT_CODES = (Code.CREDIT_AVAILABLE, Code.CREDIT_HELD)
#: Everything the platform owes a client, which escrow must cover: the wallet and the credit.
CLIENT_LIABILITY_CODES = WALLET_CODES + CREDIT_CODES


_SESSION_CACHE = "huafei.ledger.accounts"


@event.listens_for(Session, "after_rollback")
def _forget_accounts(session: Session) -> None:
    # An account created in a rolled-back transaction does not exist.
    session.info.pop(_SESSION_CACHE, None)
    session.info.pop(_NEW_IDS, None)


def ensure_account(session: Session, code: Code, owner_ref: str, *, now: datetime) -> Account:
    """The account of ``code`` for ``owner_ref``, created on first use.

    Remembered for the rest of the session's unit of work (accounts are never deleted, and a
    session lives for one transaction), so a batch touching the same accounts many times looks
    each one up once.
    """
    cache: dict[tuple[int, str], Account] = session.info.setdefault(_SESSION_CACHE, {})
    key = (int(code), owner_ref)
    account = cache.get(key)
    if account is None:
        account = cache[key] = _create(session, code, owner_ref, now=now)
    return account


_KNOWN_IDS: WeakKeyDictionary[Engine, dict[tuple[int, str], int]] = WeakKeyDictionary()
_NEW_IDS = "huafei.ledger.new_account_ids"


def account_id(session: Session, code: Code, owner_ref: str, *, now: datetime) -> int:
    """The id of ``ensure_account(session, code, owner_ref)``, remembered per database for the
    life of the process: an account is never deleted and its id never changes, so the hot paths
    (settling cards) look each account up once. An id learnt in a transaction is remembered only
    once that transaction commits."""
    engine = _engine(session)
    key = (int(code), owner_ref)
    known = _KNOWN_IDS.get(engine)
    if known is not None and key in known:
        return known[key]
    found = ensure_account(session, code, owner_ref, now=now).id
    session.info.setdefault(_NEW_IDS, []).append((engine, key, found))
    return found


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


@event.listens_for(Session, "after_commit")
def _remember_account_ids(session: Session) -> None:
    for engine, key, found in session.info.pop(_NEW_IDS, ()):
        _KNOWN_IDS.setdefault(engine, {})[key] = found


def _create(session: Session, code: Code, owner_ref: str, *, now: datetime) -> Account:
    spec = CHART[code]
    suffix = "" if owner_ref == PLATFORM else f" ({owner_ref})"
    return create_account(
        session,
        code=int(code),
        type=spec.type,
        owner_ref=owner_ref,
        name=spec.name + suffix,
        now=now,
        debits_must_not_exceed_credits=spec.no_overdraft,
        credits_must_not_exceed_debits=spec.no_negative_asset,
    )


def ensure_platform_accounts(session: Session, *, now: datetime) -> dict[Code, Account]:
    platform_codes = (
        Code.ESCROW,
        Code.OWN_FUNDS,
        Code.CARRIER_RECEIVABLE,
        Code.CARRIER_BALANCE,
        Code.EQUITY,
        Code.SPREAD_REVENUE,
        Code.FEE_REVENUE,
        Code.CHANNEL_EXPENSE,
    )
    return {code: ensure_account(session, code, PLATFORM, now=now) for code in platform_codes}


def ensure_wallet(session: Session, owner_ref: str, *, now: datetime) -> dict[Code, Account]:
    return {code: ensure_account(session, code, owner_ref, now=now) for code in WALLET_CODES}
