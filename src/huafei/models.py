"""Every domain's tables, imported so that one metadata describes the whole schema."""

from huafei.balance.models import (
    BalanceAuthorisation,
    BalanceSale,
    BalanceSaleEvent,
    BalanceTerms,
    ReceivingNumber,
)
from huafei.carriers.models import CarrierNotification
from huafei.core.db import Base
from huafei.core.models import SystemFlag
from huafei.credit.models import CreditTopUp
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
from huafei.notices.models import Notice, NoticePreference
from huafei.orders.models import Order, OrderBatch, OrderEvent
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
    BalanceRate,
    ChannelProfile,
    Quote,
    RateCardVersion,
    RateEntry,
    VolumeTier,
)
from huafei.sms.models import SmsOutboxMessage
from huafei.vouchers.models import Voucher, VoucherRequest
from huafei.workdays.models import DayOverride

metadata = Base.metadata

__all__ = [
    "Account",
    "AgreementAcceptance",
    "AgreementVersion",
    "AuthSession",
    "AuthThrottle",
    "BalanceAuthorisation",
    "BalanceRate",
    "BalanceSale",
    "BalanceSaleEvent",
    "BalanceTerms",
    "CarrierNotification",
    "ChannelProfile",
    "CreditTopUp",
    "DayOverride",
    "Job",
    "KycLimit",
    "KycLimitUsage",
    "Notice",
    "NoticePreference",
    "OperationLogEntry",
    "Order",
    "OrderBatch",
    "OrderEvent",
    "Partner",
    "PartnerApiKey",
    "PayoutMethod",
    "Quote",
    "RailNotification",
    "RateCardVersion",
    "RateEntry",
    "ReceivingNumber",
    "ReconciliationCase",
    "ReconciliationLine",
    "ReconciliationRun",
    "RevenueSweep",
    "Seller",
    "SmsCode",
    "SmsOutboxMessage",
    "Staff",
    "SystemFlag",
    "Transfer",
    "VolumeTier",
    "Voucher",
    "VoucherRequest",
    "Withdrawal",
    "WithdrawalApproval",
    "WithdrawalEvent",
    "metadata",
]
