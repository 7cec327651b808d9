"""Who is calling: the one place payout, wallet and notice routes learn the caller.

A wallet owner is the signed-in seller (cookie session or bearer token); their verified real
name comes from their KYC (L2 and above). Finance routes need a staff member whose role holds
``payouts:run`` (withdrawal approvals, escrow) or ``reconcile:run`` (reconciliation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Header, Request

from huafei.container import Container
from huafei.core.idempotency import KEY_PATTERN
from huafei.identity.deps import current_seller, require_permission
from huafei.identity.models import Seller, Staff
from huafei.identity.permissions import Permission
from huafei.payouts.service.withdrawals import WITHDRAWAL_KEY_LENGTH


@dataclass(frozen=True, slots=True)
class Owner:
    """A wallet owner and, when verified (L2), the real name on their ID."""

    ref: str
    verified_real_name: str | None
    phone: str = ""


def container_of(request: Request) -> Container:
    return cast("Container", request.app.state.container)


def current_owner(request: Request, seller: Annotated[Seller, Depends(current_seller)]) -> Owner:
    keyring = container_of(request).keyring
    name = seller.real_name(keyring) if seller.tier >= 2 else None
    return Owner(ref=seller.ledger_owner_ref, verified_real_name=name, phone=seller.phone)


def _payouts_staff(
    staff: Annotated[Staff, Depends(require_permission(Permission.PAYOUTS_RUN))],
) -> int:
    return staff.id


def _reconcile_staff(
    staff: Annotated[Staff, Depends(require_permission(Permission.RECONCILE))],
) -> int:
    return staff.id


CurrentOwner = Annotated[Owner, Depends(current_owner)]
CurrentStaff = Annotated[int, Depends(_payouts_staff)]
ReconcileStaff = Annotated[int, Depends(_reconcile_staff)]
#: The longest key a withdrawal stores; the same for every payout route, so a client needs one
#: rule.
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=WITHDRAWAL_KEY_LENGTH, pattern=KEY_PATTERN),
]
