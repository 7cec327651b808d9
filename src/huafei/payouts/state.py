"""The withdrawal state machine: which status may follow which, checked on every change.

Like the orders' table (``orders.models.TRANSITIONS``): a withdrawal is created in one of
``INITIAL_STATUSES`` and changes status only through ``transition``, which refuses a move the
table does not allow with ``InvalidTransition`` (409 ``withdrawal_invalid_transition``). The
use cases check the status they expect first and explain a refusal in their own words; the
table is what no path can get around. docs/payouts.md draws it.
"""

from __future__ import annotations

from datetime import datetime

from huafei.payouts.errors import InvalidTransition
from huafei.payouts.models import Withdrawal, WithdrawalStatus

_S = WithdrawalStatus

#: The statuses a new withdrawal is stored in: it waits for approval or for its send job.
INITIAL_STATUSES = frozenset({_S.AWAITING_APPROVAL, _S.QUEUED})

TRANSITIONS: dict[WithdrawalStatus, frozenset[WithdrawalStatus]] = {
    # approved (to be sent), rejected by finance, or taken back by the owner
    _S.AWAITING_APPROVAL: frozenset({_S.QUEUED, _S.REJECTED, _S.CANCELLED}),
    # a send attempt starts; the owner takes it back; or a rail result for an earlier attempt
    # (sent again after the rail lost it) arrives first
    _S.QUEUED: frozenset({_S.SENDING, _S.CANCELLED, _S.PAID, _S.FAILED}),
    # SENDING again: a new attempt after one whose answer never came (the rail is idempotent on
    # the payout id); accepted, or a result (callback, query) before the answer
    _S.SENDING: frozenset({_S.SENDING, _S.SENT, _S.PAID, _S.FAILED}),
    # the result; or QUEUED when the rail says it never heard of the payout (sent again)
    _S.SENT: frozenset({_S.PAID, _S.FAILED, _S.QUEUED}),
    _S.PAID: frozenset(),
    _S.FAILED: frozenset(),
    _S.REJECTED: frozenset(),
    _S.CANCELLED: frozenset(),
}


def transition(withdrawal: Withdrawal, to: WithdrawalStatus, now: datetime) -> None:
    """Move ``withdrawal`` to ``to`` or raise ``InvalidTransition`` (nothing changed then);
    a final status also records when the withdrawal completed."""
    current = withdrawal.state
    if to not in TRANSITIONS[current]:
        raise InvalidTransition(
            f"withdrawal {withdrawal.id} is {current}; it cannot become {to}",
            status=current.value,
        )
    withdrawal.status = to.value
    withdrawal.updated_at = now
    if to.final:
        withdrawal.completed_at = now
