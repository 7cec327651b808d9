"""Wallet balances and statements, read from the ledger (a wallet holds no balance of its own).

What an owner sees, from the three ledger accounts of ``ledger.chart.ensure_wallet``:

* **pending** (待结算): the posted balance of the ``WALLET_PENDING`` account;
* **available** (可用): the posted balance of ``WALLET_AVAILABLE`` less what holds reserve on it;
* **held** (冻结): those holds plus the posted balance of ``WALLET_HELD`` — money on its way out.

A statement line is one ledger transfer with its reason, order reference and its effect on each
of the three figures, so the lines add up to the balances.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from huafei.core.errors import ValidationFailed
from huafei.core.money import CNY
from huafei.core.types import MAX_INT64, moment_in_range
from huafei.ledger import TRANSFERS, find_account
from huafei.ledger.chart import WALLET_CODES, Code
from huafei.ledger.models import Account, TransferKind
from huafei.wallets import reasons

OWNER_KINDS = ("seller", "enterprise", "partner", "distributor")


class InvalidCursor(ValidationFailed):
    """A statement cursor that does not parse."""

    code = "invalid_cursor"
    title = "The cursor is not one this API gave out"


def parse_cursor(cursor: str) -> tuple[datetime, int]:
    """``next_cursor`` of a page (``{created_at ISO}|{seq}``) back into its parts, or 422."""
    refused = InvalidCursor("pass back the next_cursor of the previous page unchanged")
    at_text, bar, seq_text = cursor.partition("|")
    if not bar or len(cursor) > 64 or not seq_text.isascii() or not seq_text.isdigit():
        raise refused
    try:
        at = datetime.fromisoformat(at_text)
    except ValueError:
        raise refused from None
    seq = int(seq_text)
    if not moment_in_range(at) or seq > MAX_INT64:
        raise refused
    return at, seq


@dataclass(frozen=True, slots=True)
class WalletBalances:
    """An owner's wallet: pending, available and held, in fen."""

    owner_ref: str
    currency: str
    pending_fen: int
    available_fen: int
    held_fen: int

    @property
    def total_fen(self) -> int:
        """Everything the owner has in the wallet."""
        return self.pending_fen + self.available_fen + self.held_fen


def wallet_accounts(session: Session, owner_ref: str, currency: str = CNY) -> dict[Code, Account]:
    """The owner's wallet accounts that exist (none before the first movement)."""
    found = {}
    for code in WALLET_CODES:
        account = find_account(session, code=int(code), owner_ref=owner_ref, currency=currency)
        if account is not None:
            found[code] = account
    return found


def get_balances(session: Session, owner_ref: str, currency: str = CNY) -> WalletBalances:
    """The owner's wallet balances (zero before the first movement)."""
    accounts = wallet_accounts(session, owner_ref, currency)
    pending = accounts.get(Code.WALLET_PENDING)
    available = accounts.get(Code.WALLET_AVAILABLE)
    held = accounts.get(Code.WALLET_HELD)
    return WalletBalances(
        owner_ref=owner_ref,
        currency=currency,
        pending_fen=pending.balance if pending else 0,
        available_fen=available.available if available else 0,
        held_fen=(available.debits_pending if available else 0) + (held.balance if held else 0),
    )


@dataclass(frozen=True, slots=True)
class StatementRow:
    """One movement of the owner's wallet, by balance."""

    transfer_id: str
    at: datetime
    reason_code: int
    reason: str
    ref: str | None
    memo: str
    pending_change_fen: int
    available_change_fen: int
    held_change_fen: int


@dataclass(frozen=True, slots=True)
class WalletStatementPage:
    """A page of a wallet statement and the cursor of the next (None on the last)."""

    rows: list[StatementRow]
    next_cursor: str | None


def _deltas(row: Any, side_account: int, pending_amount: int) -> tuple[int, int, int, int]:
    """Change of (debits_pending, debits_posted, credits_pending, credits_posted) that the
    transfer made to ``side_account``."""
    kind = TransferKind(row.kind)
    debit = row.debit_account_id == side_account
    amount = row.amount
    pending = posted = 0
    if kind is TransferKind.SINGLE:
        posted = amount
    elif kind is TransferKind.PENDING:
        pending = amount
    elif kind is TransferKind.POST_PENDING:
        pending, posted = -pending_amount, amount
    else:  # void or expiry releases the whole pending amount
        pending = -pending_amount
    return (pending, posted, 0, 0) if debit else (0, 0, pending, posted)


def wallet_statement(
    session: Session,
    owner_ref: str,
    *,
    cursor: str | None = None,
    limit: int = 50,
    since: datetime | None = None,
    until: datetime | None = None,
    locale: str = "zh",
    currency: str = CNY,
) -> WalletStatementPage:
    """The owner's movements, oldest first, in keyset pages (stable while new ones arrive)."""
    accounts = wallet_accounts(session, owner_ref, currency)
    if not accounts:
        return WalletStatementPage([], None)
    role = {account.id: code for code, account in accounts.items()}
    limit = max(1, min(limit, 1000))
    raw = _statement_transfers(
        session, list(role), cursor=cursor, limit=limit, since=since, until=until
    )
    more = len(raw) > limit
    raw = raw[:limit]
    rows = [row for row in (_statement_row(r, role, locale) for r in raw) if row is not None]
    next_cursor = None
    if more and raw:
        last = raw[-1]
        next_cursor = f"{last.created_at.isoformat()}|{last.seq}"
    return WalletStatementPage(rows, next_cursor)


def _statement_transfers(
    session: Session,
    ids: list[int],
    *,
    cursor: str | None,
    limit: int,
    since: datetime | None,
    until: datetime | None,
) -> list[Any]:
    """Up to ``limit`` + 1 transfers touching the accounts ``ids`` (one more: is there a next
    page?), each with the amount of the pending transfer it resolves."""
    t = TRANSFERS
    p = TRANSFERS.alias("pending")
    query = (
        select(t, p.c.amount.label("pending_amount"))
        .select_from(t.outerjoin(p, p.c.id == t.c.pending_id))
        .where(or_(t.c.debit_account_id.in_(ids), t.c.credit_account_id.in_(ids)))
    )
    if since is not None:
        query = query.where(t.c.created_at >= since)
    if until is not None:
        query = query.where(t.c.created_at < until)
    if cursor:
        at, last_seq = parse_cursor(cursor)
        query = query.where(
            or_(t.c.created_at > at, and_(t.c.created_at == at, t.c.seq > last_seq))
        )
    # Insertion order breaks ties: a hold's transfers were written in the order they happened.
    return list(session.execute(query.order_by(t.c.created_at, t.c.seq).limit(limit + 1)))


def _statement_row(row: Any, role: dict[int, Code], locale: str) -> StatementRow | None:
    """What the transfer changed in the owner's pending, available and held balances; None when
    it changed nothing the owner sees (e.g. a hold posted in full)."""
    changes = {Code.WALLET_PENDING: 0, Code.WALLET_AVAILABLE: 0, Code.WALLET_HELD: 0}
    for account_id in {row.debit_account_id, row.credit_account_id} & set(role):
        code = role[account_id]
        dp, d_posted, _cp, c_posted = _deltas(row, account_id, row.pending_amount or 0)
        if code is Code.WALLET_AVAILABLE:
            changes[Code.WALLET_AVAILABLE] += c_posted - d_posted - dp
            changes[Code.WALLET_HELD] += dp
        else:
            changes[code] += c_posted - d_posted
    if not any(changes.values()):
        return None
    return StatementRow(
        transfer_id=row.id,
        at=row.created_at,
        reason_code=row.code,
        reason=reasons.label(row.code, row.memo, locale=locale),
        ref=row.ref,
        memo=row.memo,
        pending_change_fen=changes[Code.WALLET_PENDING],
        available_change_fen=changes[Code.WALLET_AVAILABLE],
        held_change_fen=changes[Code.WALLET_HELD],
    )


def all_statement_rows(
    session: Session,
    owner_ref: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    locale: str = "zh",
) -> Iterator[StatementRow]:
    """Every row of the owner's statement in the period, page after page (for exports)."""
    cursor = None
    while True:
        page = wallet_statement(
            session, owner_ref, cursor=cursor, limit=1000, since=since, until=until, locale=locale
        )
        yield from page.rows
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
