"""Every domain's tables, imported so that one metadata describes the whole schema."""

from huafei.core.db import Base
from huafei.core.models import SystemFlag
from huafei.identity.models import (
    AuthSession,
    AuthThrottle,
    KycLimit,
    KycLimitUsage,
    OperationLogEntry,
    Partner,
    PartnerApiKey,
    Seller,
    SmsCode,
    Staff,
)
from huafei.jobs.models import Job
from huafei.ledger.models import Account, Transfer
from huafei.sms.models import SmsOutboxMessage

metadata = Base.metadata

__all__ = [
    "Account",
    "AuthSession",
    "AuthThrottle",
    "Job",
    "KycLimit",
    "KycLimitUsage",
    "OperationLogEntry",
    "Partner",
    "PartnerApiKey",
    "Seller",
    "SmsCode",
    "SmsOutboxMessage",
    "Staff",
    "SystemFlag",
    "Transfer",
    "metadata",
]
