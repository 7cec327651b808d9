"""What payout routes take besides the caller: the payout configuration, the finance staff
contexts and the idempotency key of a money-moving request.

A wallet owner is the signed-in seller (``identity.deps.SellerCtx``: their verified real name
comes from their KYC, L2 and above). Finance routes need a staff member whose role holds
``payouts:run`` (withdrawal approvals, escrow) or ``reconcile:run`` (reconciliation).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from huafei.identity.deps import StaffContext, staff_with
from huafei.identity.permissions import Permission
from huafei.payouts.config import Payouts
from huafei.payouts.service.withdrawals import WITHDRAWAL_KEY_LENGTH
from huafei.web.context import Provided
from huafei.web.idempotency import Idempotency, idempotent_with

#: The rails, sandboxes, limits, risk and policy, built by the composition root from settings.
PAYOUTS: Provided[Payouts] = Provided("payouts")
PayoutsDep = Annotated[Payouts, Depends(PAYOUTS.of)]

FinanceCtx = Annotated[StaffContext, Depends(staff_with(Permission.PAYOUTS_RUN))]
ReconcileCtx = Annotated[StaffContext, Depends(staff_with(Permission.RECONCILE))]
#: The longest key a withdrawal stores; the same for every payout route, so a client needs one
#: rule.
PayoutIdempotent = Annotated[Idempotency, Depends(idempotent_with(WITHDRAWAL_KEY_LENGTH))]
