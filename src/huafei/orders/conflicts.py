"""Orders the channel contradicted itself about, held for an operator.

A channel that accepted a card under one reference and later answers under another (it lost its
record of the consumption in a crash, say, and then finds the card ``used``) has not told us the
card failed: it may well have consumed it. Such an order is held in ``conflict`` — no more
checks, its card's live slot and limit usage kept — until an operator, having checked with the
channel (its statement, its support desk), records what happened: consumed (at the face value
the channel confirms) or not consumed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.carriers.formats import face_values_fen
from huafei.carriers.gateway import Carrier, ConsumptionStatus
from huafei.notices.service import Notifier
from huafei.orders import errors
from huafei.orders.models import Order, OrderState
from huafei.orders.settlement import credit_consumed, fail_consumption
from huafei.orders.state import transition

log = logging.getLogger(__name__)


def hold_conflict(session: Session, order: Order, *, now: datetime, reason: str) -> None:
    """Hold a consuming order for an operator: the channel's answers contradict each other."""
    order.check_at = None
    transition(session, order, OrderState.CONFLICT, actor="channel", now=now, reason=reason)
    log.warning(
        "carrier channel answers conflict; order held for an operator",
        extra={"order_id": order.id, "channel_ref": order.channel_ref},
    )


def list_conflicts(session: Session, *, limit: int = 200) -> list[Order]:
    """Orders held in ``conflict``, oldest first."""
    return list(
        session.scalars(
            select(Order)
            .where(Order.state == OrderState.CONFLICT.value)
            .order_by(Order.id)
            .limit(max(1, min(limit, 1000)))
        )
    )


def resolve_conflict(
    session: Session,
    order_id: int,
    *,
    consumed: bool,
    actual_face_value_fen: int | None = None,
    reason: str = "",
    actor: str,
    now: datetime,
    notifier: Notifier,
) -> Order:
    """Record what the channel confirmed for an order in ``conflict``: consumed (credited and
    settled like any consumed card, at ``actual_face_value_fen`` when the channel says the card
    was worth another face value) or not (failed as ``rejected``, its limit usage released)."""
    order = session.scalars(
        select(Order).where(Order.id == order_id).with_for_update()
    ).one_or_none()
    if order is None:
        raise errors.OrderNotFound(f"order {order_id} does not exist", order_id=order_id)
    if order.order_state is not OrderState.CONFLICT:
        raise errors.InvalidTransition(
            f"order {order_id} is {order.state}, not in conflict",
            order_id=order_id,
            state=order.state,
        )
    if consumed:
        actual = actual_face_value_fen or order.face_value_fen
        if actual not in face_values_fen(Carrier(order.carrier)):
            raise errors.InvalidResolution(
                f"{order.carrier} sells no card of {actual} fen", order_id=order_id
            )
        credit_consumed(
            session, order, actual_face_value_fen=actual, now=now, actor=actor, notifier=notifier
        )
    else:
        fail_consumption(
            session,
            order,
            status=ConsumptionStatus.REJECTED,
            reason=reason or "not consumed, as the channel confirmed",
            now=now,
            actor=actor,
            notifier=notifier,
        )
    return order
