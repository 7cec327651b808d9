"""A sale's state machine and timeline: every step recorded with time, actor and detail."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.balance import errors
from huafei.balance.models import BalanceSale, BalanceSaleEvent, SaleState


class Step(enum.StrEnum):
    """The steps a seller sees, in the order they happen."""

    VERIFIED = "verified"
    """The carrier confirmed the number, its service password and the texted code."""
    QUOTED = "quoted"
    """The price was locked."""
    AGREED = "agreed"
    """The recycling agreement was accepted, with the lawful-source confirmation."""
    FROZEN = "frozen"
    """The quoted payout is held in the ledger (额度冻结)."""
    TRANSFERRING = "transferring"
    """The carrier was asked to transfer the amount to a receiving number."""
    ANSWER_LOST = "answer_lost"
    """The carrier's answer did not arrive: the transfer is queried, never made again."""
    TRANSFERRED = "transferred"
    """The carrier confirmed the transfer; the payout is owed to the seller."""
    SETTLING = "settling"
    """Pending until the profile's settlement time."""
    SETTLED = "settled"
    """Available in the wallet."""
    FAILED = "failed"
    """The carrier refused the transfer; the hold is released."""


#: Every allowed move; anything else is refused.
TRANSITIONS: dict[SaleState, frozenset[SaleState]] = {
    SaleState.FROZEN: frozenset({SaleState.TRANSFERRING}),
    SaleState.TRANSFERRING: frozenset({SaleState.SETTLING, SaleState.FAILED}),
    SaleState.SETTLING: frozenset({SaleState.SETTLED}),
}


def lock_sale(session: Session, sale_id: int) -> BalanceSale | None:
    """A sale locked for this unit of work, or None."""
    return session.scalars(
        select(BalanceSale)
        .where(BalanceSale.id == sale_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def record(
    session: Session,
    sale: BalanceSale,
    step: Step,
    *,
    actor: str,
    now: datetime,
    detail: str = "",
) -> None:
    """Add ``step`` to the sale's timeline (in its current state)."""
    session.add(
        BalanceSaleEvent(
            sale_id=sale.id,
            step=step.value,
            state=sale.state,
            actor=actor[:64],
            detail=detail[:255],
            at=now,
        )
    )


def move(
    session: Session,
    sale: BalanceSale,
    to: SaleState,
    *,
    step: Step,
    actor: str,
    now: datetime,
    detail: str = "",
) -> None:
    """Move the sale to ``to`` (or raise ``InvalidTransition``) and record ``step``."""
    if to not in TRANSITIONS.get(sale.sale_state, frozenset()):
        raise errors.InvalidTransition(
            f"sale {sale.id} is {sale.state}; it cannot become {to}", sale_id=sale.id
        )
    sale.state = to.value
    sale.updated_at = now
    record(session, sale, step, actor=actor, now=now, detail=detail)


def events(session: Session, sale_id: int) -> list[BalanceSaleEvent]:
    """The sale's timeline, oldest first."""
    session.flush()
    return list(
        session.scalars(
            select(BalanceSaleEvent)
            .where(BalanceSaleEvent.sale_id == sale_id)
            .order_by(BalanceSaleEvent.id)
        )
    )
