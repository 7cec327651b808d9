"""Why money moved: the ledger transfer ``code`` of each business reason and how a statement
shows it. Domains add their reasons here so every wallet statement can name them."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Reason(enum.IntEnum):
    OTHER = 0
    """A movement without a registered reason; the statement shows its memo."""
    WITHDRAWAL_HOLD = 7001
    """The amount of a withdrawal held (available → held)."""
    WITHDRAWAL_FEE_HOLD = 7002
    """The fee of a withdrawal held on the available balance."""
    WITHDRAWAL_POST = 7003
    """The held amount confirmed for payout."""
    WITHDRAWAL_FEE = 7004
    """The fee of a paid withdrawal, to fee revenue."""
    WITHDRAWAL_PAID_OUT = 7005
    """The amount leaves the wallet and escrow for the payout account."""
    WITHDRAWAL_RELEASE = 7006
    """A failed, rejected or cancelled withdrawal's amount back to available."""
    WITHDRAWAL_FEE_RELEASE = 7007
    """A failed, rejected or cancelled withdrawal's fee back to available."""
    REVENUE_SWEEP = 7101
    """Platform revenue moved from escrow to own funds."""
    CREDIT_EARNED = 7201
    """Settled proceeds of a consumption-credit profile: pending wallet → consumption credit."""
    TOPUP_HOLD = 7202
    """The price of a top-up held on the consumption credit (credit → credit held)."""
    TOPUP_POST = 7203
    """The held price confirmed: the carrier made the top-up."""
    TOPUP_PAID = 7204
    """The price leaves the credit and escrow for the carrier."""
    TOPUP_RELEASE = 7205
    """The carrier refused the top-up: its price is credit again."""
    TOPUP_DISCOUNT = 7206
    """The discount of a top-up, paid by the platform from its own funds."""


@dataclass(frozen=True, slots=True)
class Label:
    zh: str
    en: str


LABELS: dict[int, Label] = {
    Reason.OTHER: Label("其他", "Other"),
    Reason.WITHDRAWAL_HOLD: Label("提现冻结", "Withdrawal held"),
    Reason.WITHDRAWAL_FEE_HOLD: Label("提现手续费冻结", "Withdrawal fee held"),
    Reason.WITHDRAWAL_POST: Label("提现确认", "Withdrawal confirmed"),
    Reason.WITHDRAWAL_FEE: Label("提现手续费", "Withdrawal fee"),
    Reason.WITHDRAWAL_PAID_OUT: Label("提现到账", "Withdrawal paid out"),
    Reason.WITHDRAWAL_RELEASE: Label("提现退回", "Withdrawal returned"),
    Reason.WITHDRAWAL_FEE_RELEASE: Label("提现手续费退回", "Withdrawal fee returned"),
    Reason.REVENUE_SWEEP: Label("收入划转", "Revenue sweep"),
    Reason.CREDIT_EARNED: Label("转入消费金", "Moved to consumption credit"),
    Reason.TOPUP_HOLD: Label("充话费冻结", "Top-up held"),
    Reason.TOPUP_POST: Label("充话费确认", "Top-up confirmed"),
    Reason.TOPUP_PAID: Label("充话费", "Top-up"),
    Reason.TOPUP_RELEASE: Label("充话费退回", "Top-up returned"),
    Reason.TOPUP_DISCOUNT: Label("充话费优惠", "Top-up discount"),
}


def label(code: int, memo: str = "", *, locale: str = "zh") -> str:
    found = LABELS.get(code)
    if found is None or code == Reason.OTHER:
        return memo or (LABELS[Reason.OTHER].zh if locale == "zh" else "Other")
    return found.zh if locale == "zh" else found.en
