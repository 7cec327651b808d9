"""Small keyword-default factories for tests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from huafei.core.db import Database
from huafei.ledger.models import Account, AccountType
from huafei.ledger.service import create_account

_counter = iter(range(1, 10**9))


def make_account(
    session: Session,
    *,
    now: datetime,
    type: AccountType = AccountType.ASSET,  # noqa: A002
    code: int = 1001,
    owner_ref: str | None = None,
    currency: str = "CNY",
    no_overdraft: bool = False,
    no_negative: bool = False,
) -> Account:
    return create_account(
        session,
        code=code,
        type=type,
        owner_ref=owner_ref or f"test:{next(_counter)}",
        name="test account",
        now=now,
        currency=currency,
        debits_must_not_exceed_credits=no_overdraft,
        credits_must_not_exceed_debits=no_negative,
    )


def make_accounts(db: Database, now: datetime, **kinds: dict[str, object]) -> dict[str, int]:
    """Create named accounts in one transaction and return their ids."""

    def work(session: Session) -> dict[str, int]:
        return {
            name: make_account(session, now=now, **options).id  # type: ignore[arg-type]
            for name, options in kinds.items()
        }

    return db.run(work)
