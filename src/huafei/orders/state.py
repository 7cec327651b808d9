"""The order state machine: every transition checked and recorded with time, actor and reason."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from huafei.orders.errors import InvalidTransition
from huafei.orders.models import TRANSITIONS, Order, OrderEvent, OrderState

_PENDING = "huafei.orders.pending_events"


def _record(session: Session, row: dict[str, Any]) -> None:
    session.info.setdefault(_PENDING, []).append(row)


def write_events(session: Session) -> None:
    """Write the events recorded in this unit of work so far.

    Events are gathered and written with one executemany just before the unit of work commits
    (nobody reads their ids, so no RETURNING and no ORM bookkeeping per event); a reader in the
    same unit of work calls this first.
    """
    rows = session.info.pop(_PENDING, None)
    if rows:
        session.execute(insert(OrderEvent), rows)


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    write_events(session)


@event.listens_for(Session, "after_rollback")
def _forget_events(session: Session) -> None:
    session.info.pop(_PENDING, None)


def record_created(
    session: Session, order: Order, *, actor: str, now: datetime, reason: str = ""
) -> None:
    _record(
        session,
        {
            "order_id": order.id,
            "from_state": None,
            "to_state": order.state,
            "actor": actor,
            "reason": reason,
            "at": now,
        },
    )


def transition(
    session: Session,
    order: Order,
    to: OrderState,
    *,
    actor: str,
    now: datetime,
    reason: str = "",
) -> None:
    """Move ``order`` to ``to`` or raise ``InvalidTransition``; the event is written with it."""
    current = order.order_state
    if to not in TRANSITIONS.get(current, frozenset()):
        raise InvalidTransition(
            f"order {order.id} is {current}; it cannot become {to}",
            order_id=order.id,
            state=current.value,
        )
    order.state = to.value
    order.updated_at = now
    _record(
        session,
        {
            "order_id": order.id,
            "from_state": current.value,
            "to_state": to.value,
            "actor": actor,
            "reason": reason[:255],
            "at": now,
        },
    )
