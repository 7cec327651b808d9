"""Reading the ledger: transfers by id or reference, a pending transfer's state, an account's
balances at a moment and its statement."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from huafei.ledger.accounts import get_account
from huafei.ledger.models import Account, TransferKind
from huafei.ledger.records import TRANSFERS, TransferRecord


def get_transfer(session: Session, transfer_id: str) -> TransferRecord | None:
    """A stored transfer by id, or None."""
    row = session.execute(select(TRANSFERS).where(TRANSFERS.c.id == transfer_id)).one_or_none()
    return TransferRecord.from_row(row) if row is not None else None


def transfers_by_ref(session: Session, ref: str) -> list[TransferRecord]:
    """The transfers of a reference (an order, a withdrawal), oldest first."""
    rows = session.execute(
        select(TRANSFERS).where(TRANSFERS.c.ref == ref).order_by(TRANSFERS.c.created_at)
    )
    return [TransferRecord.from_row(row) for row in rows]


def transfers_by_refs(session: Session, refs: Collection[str]) -> dict[str, list[TransferRecord]]:
    """The transfers of many references at once, each reference's in insertion order (a
    reference without transfers is left out)."""
    found: dict[str, list[TransferRecord]] = {}
    if not refs:
        return found
    rows = session.execute(
        select(TRANSFERS).where(TRANSFERS.c.ref.in_(list(refs))).order_by(TRANSFERS.c.seq)
    )
    for row in rows:
        found.setdefault(row.ref, []).append(TransferRecord.from_row(row))
    return found


def pending_state(session: Session, pending_id: str) -> TransferKind | None:
    """``pending`` while open, else the kind of the transfer that resolved it; None if unknown."""
    pending = get_transfer(session, pending_id)
    if pending is None or pending.kind is not TransferKind.PENDING:
        return None
    kind = session.scalar(select(TRANSFERS.c.kind).where(TRANSFERS.c.pending_id == pending_id))
    return TransferKind(kind) if kind else TransferKind.PENDING


@dataclass(frozen=True, slots=True)
class Balances:
    """An account's four balances, in fen."""

    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int


def balance_as_of(session: Session, account_id: int, at: datetime) -> Balances:
    """The account's four balances as they stood at ``at`` (inclusive), from its transfers."""
    get_account(session, account_id)
    t = TRANSFERS
    r = TRANSFERS.alias("resolution")
    posted_kinds = (TransferKind.SINGLE.value, TransferKind.POST_PENDING.value)

    def posted(column: Any) -> int:
        return int(
            session.scalar(
                select(func.coalesce(func.sum(t.c.amount), 0)).where(
                    column == account_id, t.c.kind.in_(posted_kinds), t.c.created_at <= at
                )
            )
            or 0
        )

    def pending(column: Any) -> int:
        return int(
            session.scalar(
                select(func.coalesce(func.sum(t.c.amount), 0))
                .select_from(t.outerjoin(r, and_(r.c.pending_id == t.c.id, r.c.created_at <= at)))
                .where(
                    column == account_id,
                    t.c.kind == TransferKind.PENDING.value,
                    t.c.created_at <= at,
                    r.c.id.is_(None),
                )
            )
            or 0
        )

    return Balances(
        debits_pending=pending(t.c.debit_account_id),
        debits_posted=posted(t.c.debit_account_id),
        credits_pending=pending(t.c.credit_account_id),
        credits_posted=posted(t.c.credit_account_id),
    )


@dataclass(frozen=True, slots=True)
class StatementLine:
    """A transfer as one account's statement shows it."""

    transfer: TransferRecord
    side: str  # "debit" or "credit": the side this account is on
    posted_change: int  # signed change of the account's normal-side posted balance
    pending_change: int  # signed change of what is held pending against/for the account


@dataclass(frozen=True, slots=True)
class StatementPage:
    """A page of a statement, and the cursor of the next page (None on the last)."""

    lines: list[StatementLine]
    next_cursor: str | None


def statement(
    session: Session,
    account_id: int,
    *,
    cursor: str | None = None,
    limit: int = 50,
    since: datetime | None = None,
    until: datetime | None = None,
) -> StatementPage:
    """Transfers touching the account, oldest first, in pages of ``limit``.

    ``cursor`` is the opaque ``next_cursor`` of the previous page (keyset pagination on time and
    id, so pages stay stable while new transfers arrive).
    """
    account = get_account(session, account_id)
    limit = max(1, min(limit, 1000))
    t = TRANSFERS
    query = select(t).where(
        or_(t.c.debit_account_id == account_id, t.c.credit_account_id == account_id)
    )
    if since is not None:
        query = query.where(t.c.created_at >= since)
    if until is not None:
        query = query.where(t.c.created_at < until)
    if cursor:
        at_text, _, last_id = cursor.partition("|")
        at = datetime.fromisoformat(at_text)
        query = query.where(or_(t.c.created_at > at, and_(t.c.created_at == at, t.c.id > last_id)))
    rows = list(session.execute(query.order_by(t.c.created_at, t.c.id).limit(limit + 1)))
    more = len(rows) > limit
    lines = [_statement_line(account, TransferRecord.from_row(row)) for row in rows[:limit]]
    next_cursor = None
    if more and lines:
        last = lines[-1].transfer
        next_cursor = f"{last.created_at.isoformat()}|{last.id}"
    return StatementPage(lines, next_cursor)


def _statement_line(account: Account, record: TransferRecord) -> StatementLine:
    side = "debit" if record.debit_account_id == account.id else "credit"
    sign = 1 if (side == "debit") == account.account_type.debit_normal else -1
    kind = record.kind
    posted = sign * record.amount if kind.moves_posted else 0
    if kind is TransferKind.PENDING:
        pending = record.amount
    elif kind.resolves_pending:
        pending = -record.amount  # the amount released (for a partial post, see the pending)
    else:
        pending = 0
    return StatementLine(record, side, posted, pending)
