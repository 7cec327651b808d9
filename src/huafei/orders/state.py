"""The order state machine: every transition checked and recorded with time, actor and reason."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table
from sqlalchemy.orm import Session

from huafei.core.deferred import defer_insert, write_deferred
from huafei.orders.errors import InvalidTransition
from huafei.orders.models import TRANSITIONS, Order, OrderEvent, OrderState

_EVENTS: Table = OrderEvent.__table__  # type: ignore[assignment]


def _record(
    session: Session,
    order: Order,
    from_state: str | None,
    to_state: str,
    *,
    actor: str,
    reason: str,
    now: datetime,
) -> None:
    row = {
        "order_id": order.id,
        "from_state": from_state,
        "to_state": to_state,
        "actor": actor,
        "reason": reason[:255],
        "at": now,
    }
    defer_insert(session, _EVENTS, row)


def _check(order: Order, before: OrderState, after: OrderState, detail: str) -> None:
    """Raise ``InvalidTransition`` (with ``detail``) unless ``before`` may become ``after``."""
    if after not in TRANSITIONS.get(before, frozenset()):
        raise InvalidTransition(detail, order_id=order.id, state=before.value)


def write_events(session: Session) -> None:
    """Write the events recorded in this unit of work so far (they are written in one statement
    just before it commits; a reader in the same unit of work calls this first)."""
    write_deferred(session, _EVENTS)


def record_created(
    session: Session,
    order: Order,
    *,
    actor: str,
    now: datetime,
    reason: str = "",
    state: OrderState | None = None,
) -> None:
    """Record the order's creation in ``state`` (by default the state it is stored in)."""
    to_state = state.value if state is not None else order.state
    _record(session, order, None, to_state, actor=actor, reason=reason, now=now)


def record_passed(
    session: Session,
    order: Order,
    passed: OrderState,
    *,
    actor: str,
    now: datetime,
    reason: str = "",
) -> None:
    """Record that an order stored straight in its current state passed through ``passed``
    first (one insert instead of an insert and an update; the timeline is the same)."""
    current = order.order_state
    _check(order, passed, current, f"order {order.id} cannot have become {current} from {passed}")
    _record(session, order, passed.value, current.value, actor=actor, reason=reason, now=now)


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
    _check(order, current, to, f"order {order.id} is {current}; it cannot become {to}")
    order.state = to.value
    order.updated_at = now
    _record(session, order, current.value, to.value, actor=actor, reason=reason, now=now)
