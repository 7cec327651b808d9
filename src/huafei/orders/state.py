"""The order state machine: every transition checked and recorded with time, actor and reason."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from huafei.orders.errors import InvalidTransition
from huafei.orders.models import TRANSITIONS, Order, OrderEvent, OrderState


def record_created(
    session: Session, order: Order, *, actor: str, now: datetime, reason: str = ""
) -> None:
    session.add(
        OrderEvent(
            order_id=order.id,
            from_state=None,
            to_state=order.state,
            actor=actor,
            reason=reason,
            at=now,
        )
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
    session.add(
        OrderEvent(
            order_id=order.id,
            from_state=current.value,
            to_state=to.value,
            actor=actor,
            reason=reason[:255],
            at=now,
        )
    )
