"""Writing and reading notices. Other domains depend on the ``Notifier`` seam, not on the table.

A notice is written in the same transaction as the state change it describes, so nobody is told
about something that then rolls back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import NotRequired, Protocol, TypedDict, Unpack

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session

from huafei.core.deferred import defer_insert, write_deferred
from huafei.notices.models import Notice, NoticePreference

#: Notices are written together when the unit of work commits (``core.deferred``).
_NOTICES: Table = Notice.__table__  # type: ignore[assignment]

#: The staff inbox finance reads (escrow alerts, reconciliation cases).
FINANCE_INBOX = "staff:finance"


class NoticeKind(enum.StrEnum):
    """What a notice is about; each kind has a default for its SMS copy."""

    BALANCE_CHANGE = "balance_change"
    """余额变动: money was held, released or moved in a wallet."""
    PAYOUT_ARRIVED = "payout_arrived"
    """到账: a withdrawal reached the payout account."""
    PAYOUT_FAILED = "payout_failed"
    """A withdrawal failed or was refused; the money is back in the wallet."""
    FUNDS_ARRIVED = "funds_arrived"
    """到账: a card's proceeds became available in the wallet."""
    ORDER_ADJUSTED = "order_adjusted"
    """A card was worth another face value than declared (面值不符) and settled at it."""
    ORDER_FAILED = "order_failed"
    """A card could not be consumed (wrong PIN, used, expired, refused)."""
    ESCROW_ALERT = "escrow_alert"
    """Escrow fell below what the wallets are owed (to finance)."""
    RECONCILIATION = "reconciliation"
    """A reconciliation run found differences (to finance)."""


class NoticeContent(TypedDict):
    """What a notice says, passed to ``Notifier.notify`` as keyword arguments."""

    owner_ref: str
    """Whose inbox: ``seller:12``, ``staff:finance`` …"""
    kind: NoticeKind
    title: str
    body: str
    now: datetime
    ref: NotRequired[str | None]
    """What it is about (a payout id, an order id), if anything."""


class Notifier(Protocol):
    """Where services send notices (the in-app inbox, and SMS by preference)."""

    def notify(self, session: Session, **notice: Unpack[NoticeContent]) -> None:
        """Record a notice in the caller's transaction."""
        ...


#: Which notices also go out by SMS unless the owner says otherwise. Arrivals and failures do;
#: every balance movement would be too many messages for a batch of cards.
SMS_BY_DEFAULT: dict[NoticeKind, bool] = {
    NoticeKind.BALANCE_CHANGE: False,
    NoticeKind.PAYOUT_ARRIVED: True,
    NoticeKind.PAYOUT_FAILED: True,
    NoticeKind.FUNDS_ARRIVED: True,
    NoticeKind.ORDER_ADJUSTED: True,
    NoticeKind.ORDER_FAILED: False,
    NoticeKind.ESCROW_ALERT: False,
    NoticeKind.RECONCILIATION: False,
}
#: SMS jobs written by an earlier version (the SMS copy is now due on the notice itself)
SMS_JOB = "notices.sms"
#: tries of an SMS copy before it is given up (the in-app notice stays)
SMS_MAX_ATTEMPTS = 5


_SESSION_CACHE = "huafei.notices.sms"


def wants_sms(session: Session, owner_ref: str, kind: NoticeKind) -> bool:
    """Whether the owner gets ``kind`` by SMS too; looked up once per owner and unit of work."""
    if not owner_ref.startswith("seller:"):
        return False
    cache: dict[str, dict[str, bool]] = session.info.setdefault(_SESSION_CACHE, {})
    chosen = cache.get(owner_ref)
    if chosen is None:
        chosen = cache[owner_ref] = {
            p.kind: p.sms
            for p in session.scalars(
                select(NoticePreference).where(NoticePreference.owner_ref == owner_ref)
            )
        }
    return chosen.get(kind.value, SMS_BY_DEFAULT.get(kind, False))


def preferences(session: Session, owner_ref: str) -> dict[str, bool]:
    """Whether the owner gets each kind of notice by SMS too (defaults filled in)."""
    chosen = {
        p.kind: p.sms
        for p in session.scalars(
            select(NoticePreference).where(NoticePreference.owner_ref == owner_ref)
        )
    }
    return {kind.value: chosen.get(kind.value, SMS_BY_DEFAULT[kind]) for kind in SMS_BY_DEFAULT}


def set_preferences(session: Session, owner_ref: str, sms: dict[NoticeKind, bool]) -> None:
    """Record the owner's SMS choice for the kinds given (the others stay as they are)."""
    session.info.get(_SESSION_CACHE, {}).pop(owner_ref, None)
    for kind, enabled in sms.items():
        row = session.get(NoticePreference, (owner_ref, kind.value))
        if row is None:
            session.add(NoticePreference(owner_ref=owner_ref, kind=kind.value, sms=enabled))
        else:
            row.sms = enabled
    session.flush()


class InboxNotifier:
    """The default notifier: a row in ``notices``, with an SMS copy when the owner wants one.

    The SMS copy is due on the notice itself (``sms_due_at``), written in the same transaction,
    so a message is sent only for something that committed; workers send what is due and retry
    a failed send with backoff (notices.tasks).
    """

    def notify(self, session: Session, **notice: Unpack[NoticeContent]) -> None:
        """Write the notice (and its SMS copy's due time) at the caller's commit."""
        owner_ref, kind, now = notice["owner_ref"], notice["kind"], notice["now"]
        defer_insert(
            session,
            _NOTICES,
            {
                "owner_ref": owner_ref,
                "kind": kind.value,
                "title": notice["title"],
                "body": notice["body"],
                "ref": notice.get("ref"),
                "read": False,
                "created_at": now,
                # Due with the notice's own commit: a worker texts it afterwards (notices.tasks).
                "sms_due_at": now if wants_sms(session, owner_ref, kind) else None,
                "sms_attempts": 0,
            },
        )


@dataclass(frozen=True, slots=True)
class NoticeView:
    """A notice as the owner's inbox shows it."""

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
    write_deferred(session, _NOTICES)
    query = select(Notice).where(Notice.owner_ref == owner_ref)
    if unread_only:
        query = query.where(Notice.read.is_(False))
    rows = session.scalars(query.order_by(Notice.id.desc()).limit(max(1, min(limit, 500))))
    return [NoticeView(n.id, n.kind, n.title, n.body, n.ref, n.read, n.created_at) for n in rows]


def unread_count(session: Session, owner_ref: str) -> int:
    """How many of the owner's notices are unread."""
    write_deferred(session, _NOTICES)
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
