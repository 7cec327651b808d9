"""Every domain's tables, imported so that one metadata describes the whole schema."""

from huafei.carriers.models import CarrierNotification
from huafei.core.db import Base
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
from huafei.rates.models import (
    AgreementAcceptance,
    AgreementVersion,
    ChannelProfile,
    Quote,
    RateCardVersion,
    RateEntry,
    VolumeTier,
)
from huafei.workdays.models import DayOverride

metadata = Base.metadata

__all__ = [
    "Account",
    "AgreementAcceptance",
    "AgreementVersion",
    "CarrierNotification",
    "ChannelProfile",
    "DayOverride",
    "Job",
    "Notice",
    "PayoutMethod",
    "Quote",
    "RailNotification",
    "RateCardVersion",
    "RateEntry",
    "ReconciliationCase",
    "ReconciliationLine",
    "ReconciliationRun",
    "RevenueSweep",
    "SystemFlag",
    "Transfer",
    "VolumeTier",
    "Withdrawal",
    "WithdrawalApproval",
    "WithdrawalEvent",
    "metadata",
]
