"""Writing and reading notices. Other domains depend on the ``Notifier`` seam, not on the table.

A notice is written in the same transaction as the state change it describes, so nobody is told
about something that then rolls back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from huafei.notices.models import Notice

#: The staff inbox finance reads (escrow alerts, reconciliation cases).
FINANCE_INBOX = "staff:finance"


class NoticeKind(enum.StrEnum):
    BALANCE_CHANGE = "balance_change"
    """余额变动: money was held, released or moved in a wallet."""
    PAYOUT_ARRIVED = "payout_arrived"
    """到账: a withdrawal reached the payout account."""
    PAYOUT_FAILED = "payout_failed"
    """A withdrawal failed or was refused; the money is back in the wallet."""
    ESCROW_ALERT = "escrow_alert"
    """Escrow fell below what the wallets are owed (to finance)."""
    RECONCILIATION = "reconciliation"
    """A reconciliation run found differences (to finance)."""


class Notifier(Protocol):
    def notify(
        self,
        session: Session,
        *,
        owner_ref: str,
        kind: NoticeKind,
        title: str,
        body: str,
        now: datetime,
        ref: str | None = None,
    ) -> None:
        """Record a notice in the caller's transaction."""
        ...


class InboxNotifier:
    """The default notifier: a row in ``notices`` (SMS and push can wrap it later)."""

    def notify(
        self,
        session: Session,
        *,
        owner_ref: str,
        kind: NoticeKind,
        title: str,
        body: str,
        now: datetime,
        ref: str | None = None,
    ) -> None:
        session.add(
            Notice(
                owner_ref=owner_ref,
                kind=kind.value,
                title=title,
                body=body,
                ref=ref,
                read=False,
                created_at=now,
            )
        )
        session.flush()


@dataclass(frozen=True, slots=True)
class NoticeView:
    id: int
    kind: str
    title: str
    body: str
    ref: str | None
    read: bool
    created_at: datetime


def list_notices(
    session: Session, owner_ref: str, *, unread_only: bool = False, limit: int = 50
) -> list[NoticeView]:
    """Newest first."""
    query = select(Notice).where(Notice.owner_ref == owner_ref)
    if unread_only:
        query = query.where(Notice.read.is_(False))
    rows = session.scalars(query.order_by(Notice.id.desc()).limit(max(1, min(limit, 500))))
    return [NoticeView(n.id, n.kind, n.title, n.body, n.ref, n.read, n.created_at) for n in rows]


def unread_count(session: Session, owner_ref: str) -> int:
    return int(
        session.scalar(
            select(func.count()).where(Notice.owner_ref == owner_ref, Notice.read.is_(False))
        )
        or 0
    )


def mark_read(session: Session, owner_ref: str, notice_id: int) -> bool:
    """Mark one of the owner's notices read; False when it is not theirs or does not exist."""
    result = session.execute(
        update(Notice)
        .where(Notice.id == notice_id, Notice.owner_ref == owner_ref)
        .values(read=True)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
