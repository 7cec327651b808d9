"""Typed consumption-credit errors; each ``code`` is stable and listed in docs/credit.md."""

from __future__ import annotations

from huafei.core.errors import HuafeiError


class CreditError(HuafeiError):
    code = "credit_error"
    status = 422
    title = "The consumption-credit request was refused"


class InsufficientCredit(CreditError):
    code = "insufficient_credit"
    status = 409
    title = "The consumption credit does not cover the price"


class TopUpAmountNotSold(CreditError):
    code = "topup_amount_not_sold"
    title = "The carrier does not sell top-ups of this amount"


class TopUpPriceChanged(CreditError):
    code = "topup_price_changed"
    status = 409
    title = "The price changed since it was shown"


class TopUpNotFound(CreditError):
    code = "topup_not_found"
    status = 404
    title = "No such top-up"


class TopUpIdempotencyConflict(CreditError):
    code = "topup_idempotency_conflict"
    status = 409
    title = "This idempotency key was used for another top-up"
