"""Ledger accounts: created once per code, owner and currency; read by id or by owner."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.core.db import insert_ignoring_conflicts
from huafei.core.money import CNY
from huafei.ledger import errors
from huafei.ledger.models import Account, AccountType
from huafei.ledger.records import ACCOUNTS


def create_account(
    session: Session,
    *,
    code: int,
    type: AccountType,  # noqa: A002 - the ledger's own word for it
    owner_ref: str,
    name: str,
    now: datetime,
    currency: str = CNY,
    debits_must_not_exceed_credits: bool = False,
    credits_must_not_exceed_debits: bool = False,
) -> Account:
    """Create an account, or return the existing one with the same code, owner and currency."""
    insert_ignoring_conflicts(
        session,
        ACCOUNTS,
        [
            {
                "code": code,
                "type": type.value,
                "currency": currency,
                "owner_ref": owner_ref,
                "name": name,
                "debits_must_not_exceed_credits": debits_must_not_exceed_credits,
                "credits_must_not_exceed_debits": credits_must_not_exceed_debits,
                "debits_pending": 0,
                "debits_posted": 0,
                "credits_pending": 0,
                "credits_posted": 0,
                "created_at": now,
            }
        ],
    )
    account = session.scalars(
        select(Account).where(
            Account.code == code, Account.owner_ref == owner_ref, Account.currency == currency
        )
    ).one()
    return account


def get_account(session: Session, account_id: int) -> Account:
    """An account by id, read afresh; ``AccountNotFound`` when there is none."""
    account = session.get(Account, account_id, populate_existing=True)
    if account is None:
        raise errors.AccountNotFound(f"account {account_id} does not exist", account_id=account_id)
    return account


def find_account(
    session: Session, *, code: int, owner_ref: str, currency: str = CNY
) -> Account | None:
    """The account of a code, owner and currency, read afresh; None when there is none."""
    return session.scalars(
        select(Account)
        .where(Account.code == code, Account.owner_ref == owner_ref, Account.currency == currency)
        .execution_options(populate_existing=True)
    ).one_or_none()
