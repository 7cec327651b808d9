"""What each staff role may do, and what each partner API key scope allows.

A route asks for one permission (``require_permission("sellers:read")``); the table below says
which roles hold it. Adding a permission: add it to ``Permission``, give it to roles here, and
add the table row to docs/identity.md. Unknown permission names fail at import time.
"""

from __future__ import annotations

import enum

from huafei.identity.models import StaffRole


class Permission(enum.StrEnum):
    SELLERS_READ = "sellers:read"
    """See a seller's profile (masked personal data), tier and limits."""
    ORDERS_READ = "orders:read"
    DISPUTES_ANSWER = "disputes:answer"
    RISK_REVIEW = "risk:review"
    """Work the manual review queue, decide allow/delay/block."""
    RISK_LISTS = "risk:lists"
    """Manage block/allow lists and rules."""
    AML_READ = "aml:read"
    PAYOUTS_RUN = "payouts:run"
    RECONCILE = "reconcile:run"
    LEDGER_READ = "ledger:read"
    LIMITS_READ = "limits:read"
    OPLOG_READ = "oplog:read"
    """Read the operation log."""
    STAFF_MANAGE = "staff:manage"
    PARTNERS_MANAGE = "partners:manage"
    RATES_MANAGE = "rates:manage"
    CHANNELS_MANAGE = "channels:manage"
    AGREEMENTS_MANAGE = "agreements:manage"


P = Permission

#: Separation of duties: admin manages configuration and people but neither pays out nor decides
#: risk cases; compliance reads everything and changes nothing.
ROLE_PERMISSIONS: dict[StaffRole, frozenset[Permission]] = {
    StaffRole.SUPPORT: frozenset({P.SELLERS_READ, P.ORDERS_READ, P.DISPUTES_ANSWER}),
    StaffRole.RISK: frozenset(
        {P.SELLERS_READ, P.ORDERS_READ, P.RISK_REVIEW, P.RISK_LISTS, P.AML_READ, P.LIMITS_READ}
    ),
    StaffRole.FINANCE: frozenset(
        {P.SELLERS_READ, P.ORDERS_READ, P.PAYOUTS_RUN, P.RECONCILE, P.LEDGER_READ, P.LIMITS_READ}
    ),
    StaffRole.COMPLIANCE: frozenset(
        {P.SELLERS_READ, P.ORDERS_READ, P.AML_READ, P.LEDGER_READ, P.LIMITS_READ, P.OPLOG_READ}
    ),
    StaffRole.ADMIN: frozenset(
        {
            P.SELLERS_READ,
            P.ORDERS_READ,
            P.LIMITS_READ,
            P.OPLOG_READ,
            P.STAFF_MANAGE,
            P.PARTNERS_MANAGE,
            P.RATES_MANAGE,
            P.CHANNELS_MANAGE,
            P.AGREEMENTS_MANAGE,
        }
    ),
}


def role_allows(role: str, permission: str) -> bool:
    try:
        return Permission(permission) in ROLE_PERMISSIONS[StaffRole(role)]
    except ValueError:
        return False


def permissions_of(role: str) -> list[str]:
    return sorted(p.value for p in ROLE_PERMISSIONS.get(StaffRole(role), frozenset()))


class Scope(enum.StrEnum):
    """What a partner API key may do in the open API."""

    CARDS_SUBMIT = "cards:submit"
    ORDERS_READ = "orders:read"
    STATEMENTS_READ = "statements:read"
