"""An owner's consumption credit (消费金), read from the ledger: what can be spent, what is held
for top-ups in flight, and every movement with its reason.

The credit is two liability accounts per owner (``ledger.chart``): ``CREDIT_AVAILABLE``, which
a settlement credits and a top-up's hold reserves, and ``CREDIT_HELD``, where a held price waits
for the carrier. Nothing here is withdrawable: no payout path reads these accounts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from huafei.core.types import moment_in_range
from huafei.ledger import MAX_ID_LENGTH, StatementLine, find_account, statement
from huafei.ledger.chart import Code
from huafei.wallets import reasons
from huafei.wallets.service import InvalidCursor


@dataclass(frozen=True, slots=True)
class CreditBalance:
    """An owner's consumption credit in fen: spendable now, and held for top-ups in flight."""

    owner_ref: str
    available_fen: int
    held_fen: int

    @property
    def total_fen(self) -> int:
        """Everything the owner has in credit."""
        return self.available_fen + self.held_fen


def credit_balance(session: Session, owner_ref: str) -> CreditBalance:
    """The owner's consumption credit (zero before the first settlement into it)."""
    available = find_account(session, code=int(Code.CREDIT_AVAILABLE), owner_ref=owner_ref)
    held = find_account(session, code=int(Code.CREDIT_HELD), owner_ref=owner_ref)
    return CreditBalance(
        owner_ref=owner_ref,
        available_fen=available.available if available else 0,
        held_fen=(available.debits_pending if available else 0) + (held.balance if held else 0),
    )


@dataclass(frozen=True, slots=True)
class CreditLine:
    """One movement of the spendable credit: a settlement in, a top-up held, one returned."""

    transfer_id: str
    at: datetime
    reason: str
    ref: str | None
    change_fen: int


@dataclass(frozen=True, slots=True)
class CreditHistoryPage:
    """A page of the credit's history and the cursor of the next (None on the last)."""

    lines: list[CreditLine]
    next_cursor: str | None


def credit_history(
    session: Session,
    owner_ref: str,
    *,
    cursor: str | None = None,
    limit: int = 50,
    locale: str = "zh",
) -> CreditHistoryPage:
    """The movements of the owner's spendable credit, oldest first, in keyset pages (stable
    while new ones arrive). A hold posted in full changes nothing spendable and is left out."""
    account = find_account(session, code=int(Code.CREDIT_AVAILABLE), owner_ref=owner_ref)
    if account is None:
        return CreditHistoryPage([], None)
    page = statement(
        session, account.id, cursor=_checked_cursor(cursor), limit=max(1, min(limit, 1000))
    )
    lines = [line for line in (_line(entry, locale) for entry in page.lines) if line.change_fen]
    return CreditHistoryPage(lines, page.next_cursor)


def all_credit_lines(
    session: Session, owner_ref: str, *, locale: str = "zh"
) -> Iterator[CreditLine]:
    """Every movement of the owner's spendable credit, oldest first (for the portal)."""
    cursor = None
    while True:
        page = credit_history(session, owner_ref, cursor=cursor, limit=1000, locale=locale)
        yield from page.lines
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _line(entry: StatementLine, locale: str) -> CreditLine:
    record = entry.transfer
    return CreditLine(
        transfer_id=record.id,
        at=record.created_at,
        reason=reasons.label(record.code, record.memo, locale=locale),
        ref=record.ref,
        # What could be spent changed by the posted change less what a hold now reserves.
        change_fen=entry.posted_change - entry.pending_change,
    )


def _checked_cursor(cursor: str | None) -> str | None:
    """A cursor this API gave out (``{time}|{transfer id}``), or ``invalid_cursor``."""
    if cursor is None:
        return None
    refused = InvalidCursor("pass back the next_cursor of the previous page unchanged")
    at_text, bar, transfer_id = cursor.partition("|")
    if not bar or not 0 < len(transfer_id) <= MAX_ID_LENGTH:
        raise refused
    try:
        at = datetime.fromisoformat(at_text)
    except ValueError:
        raise refused from None
    if not moment_in_range(at):
        raise refused
    return cursor
