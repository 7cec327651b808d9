"""Expiry of pending transfers whose timeout has passed (a periodic job, and ``huafei ledger
expire``)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.ledger.engine import create_transfers
from huafei.ledger.models import TransferKind
from huafei.ledger.records import MAX_ID_LENGTH, TRANSFERS, NewTransfer


def expire_pending_transfers(session: Session, *, now: datetime, limit: int = 500) -> int:
    """Expire pending transfers whose timeout has passed. Safe to run twice or concurrently:
    each expiry has a deterministic id and at most one transfer may resolve a pending one."""
    r = TRANSFERS.alias("resolution")
    t = TRANSFERS
    due = session.execute(
        select(t.c.id, t.c.currency)
        .select_from(t.outerjoin(r, r.c.pending_id == t.c.id))
        .where(
            t.c.kind == TransferKind.PENDING.value,
            t.c.timeout_at.is_not(None),
            t.c.timeout_at <= now,
            r.c.id.is_(None),
        )
        .order_by(t.c.timeout_at)
        .limit(limit)
    ).all()
    results = create_transfers(
        session,
        [
            NewTransfer(
                id=expiry_id(row.id),
                kind=TransferKind.EXPIRE_PENDING,
                pending_id=row.id,
                currency=row.currency,
                memo="expired",
            )
            for row in due
        ],
        now=now,
    )
    return sum(1 for result in results if result.created)


def expiry_id(pending_id: str) -> str:
    """The expiry of a pending transfer has one id, so two expiry runs cannot both write it."""
    candidate = f"expire:{pending_id}"
    if len(candidate) <= MAX_ID_LENGTH:
        return candidate
    return "expire:" + hashlib.sha256(pending_id.encode()).hexdigest()
