"""Typed errors of the order pipeline."""

from __future__ import annotations

from huafei.core.errors import HuafeiError


class OrdersError(HuafeiError):
    code = "orders_error"
    status = 422
    title = "Order request failed"


class OrderNotFound(OrdersError):
    code = "order_not_found"
    status = 404
    title = "No such order"


class InvalidTransition(OrdersError):
    code = "invalid_order_transition"
    status = 409
    title = "The order cannot move to that state from where it is"


class NotCancellable(OrdersError):
    code = "order_not_cancellable"
    status = 409
    title = "Only orders not yet sent to the carrier can be cancelled"


class BatchRejected(OrdersError):
    code = "batch_rejected"
    title = "No card of the batch can be accepted"


class TooManyFailedCards(OrdersError):
    code = "too_many_failed_cards"
    status = 429
    title = "Too many cards failed recently; submissions are paused"


class CardAlreadySubmitted(OrdersError):
    code = "card_already_submitted"
    status = 409
    title = "This card is already in a live order"


class InvalidResolution(OrdersError):
    code = "invalid_conflict_resolution"
    status = 422
    title = "That outcome cannot be recorded for this order"
