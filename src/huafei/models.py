"""Every domain's tables, imported so that one metadata describes the whole schema."""

from huafei.core.db import Base
from huafei.core.idempotency import IdempotencyKey
from huafei.core.models import SystemFlag
from huafei.jobs.models import Job
from huafei.ledger.models import Account, Transfer
from huafei.notices.models import Notice
from huafei.payouts.models import (
    PayoutMethod,
    RailNotification,
    ReconciliationCase,
    ReconciliationLine,
    ReconciliationRun,
    RevenueSweep,
    Withdrawal,
    WithdrawalApproval,
    WithdrawalEvent,
)

metadata = Base.metadata

__all__ = [
    "Account",
    "IdempotencyKey",
    "Job",
    "Notice",
    "PayoutMethod",
    "RailNotification",
    "ReconciliationCase",
    "ReconciliationLine",
    "ReconciliationRun",
    "RevenueSweep",
    "SystemFlag",
    "Transfer",
    "Withdrawal",
    "WithdrawalApproval",
    "WithdrawalEvent",
    "metadata",
]
