"""Request and response shapes of the payout and finance routes.

Amounts go out as integer fen plus a yuan string for display; amounts come in as the text
people type (``"100"``, ``"100.5"``, ``"¥1,000.00"``), parsed by ``Money.parse`` — never a float.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from huafei.core.money import Money
from huafei.core.types import Fen, Id, SecretText, Text
from huafei.payouts.models import MethodKind, Withdrawal
from huafei.payouts.service.withdrawals import Quote, QuoteFigures


class MethodIn(BaseModel):
    kind: MethodKind
    account_no: Text = Field(min_length=1, max_length=128)
    holder_name: Text = Field(min_length=1, max_length=64)
    sms_code: SecretText = Field(min_length=1, max_length=12)


class QuoteIn(BaseModel):
    method_id: Id
    amount: Text = Field(max_length=32, description="yuan, as typed: 100, 100.50, ¥1,000")


class QuoteRefusal(BaseModel):
    """Why a request for this amount would be refused now: the problem's ``code`` and
    ``detail``, with its figures (``limit``, ``remaining_fen``, ``min_fen`` …)."""

    code: str
    detail: str
    extra: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QuoteOut(QuoteFigures):
    """A quote as the API answers it: the figures, the amounts as yuan text, and what a request
    for this amount would be refused with now."""

    amount: str
    fee: str
    total: str
    refusal: Annotated[
        QuoteRefusal | None,
        Field(description="set when a request for this amount would be refused now"),
    ] = None

    @classmethod
    def of(cls, quote: Quote) -> QuoteOut:
        refused = quote.refused
        return cls(
            **{figure.name: getattr(quote, figure.name) for figure in fields(QuoteFigures)},
            amount=Money(quote.amount_fen).plain(),
            fee=Money(quote.fee_fen).plain(),
            total=Money(quote.total_fen).plain(),
            refusal=None
            if refused is None
            else QuoteRefusal(code=refused.code, detail=refused.detail, extra=refused.extra),
        )


class WithdrawalIn(BaseModel):
    method_id: Id
    amount: Text = Field(max_length=32, description="yuan, as typed")
    fee_fen: Fen | None = Field(
        default=None, description="the fee the owner was quoted; refused if it changed"
    )


class WithdrawalOut(BaseModel):
    id: int
    payout_id: str
    status: str
    method_id: int | None = Field(
        description="None until a settlement's carrier-wallet payout is first sent"
    )
    rail: str
    currency: str
    amount_fen: int
    fee_fen: int
    total_fen: int
    amount: str
    fee: str
    total: str
    review_reason: str | None
    approvals_required: int
    failure_code: str | None
    failure_reason: str | None
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, w: Withdrawal) -> WithdrawalOut:
        return cls(
            id=w.id, payout_id=w.payout_id, status=w.status, method_id=w.method_id, rail=w.rail,
            currency=w.currency, amount_fen=w.amount_fen, fee_fen=w.fee_fen,
            total_fen=w.total_fen, amount=Money(w.amount_fen).plain(), fee=Money(w.fee_fen).plain(),
            total=Money(w.total_fen).plain(), review_reason=w.review_reason,
            approvals_required=w.approvals_required, failure_code=w.failure_code,
            failure_reason=w.failure_reason, created_at=w.created_at, completed_at=w.completed_at,
        )  # fmt: skip


class WithdrawalEventOut(BaseModel):
    event: str
    actor: str
    staff_id: int | None
    detail: dict[str, Any]
    created_at: datetime


class FinanceWithdrawalOut(WithdrawalOut):
    owner_ref: str
    history: list[WithdrawalEventOut] = []


class ApproveIn(BaseModel):
    note: Text = Field(default="", max_length=500)


class RejectIn(BaseModel):
    reason: Text = Field(min_length=1, max_length=200)


class NoteIn(BaseModel):
    note: Text = Field(min_length=1, max_length=500)


class EscrowOut(BaseModel):
    escrow_fen: int
    wallets_fen: int
    margin_fen: int
    covered: bool


class SweepIn(BaseModel):
    amount: Text | None = Field(default=None, max_length=32, description="yuan; default: all")
    note: Text = Field(default="", max_length=500)


class SweepOut(BaseModel):
    id: int
    operator_id: int
    amount_fen: int
    margin_before_fen: int
    transfer_id: str
    created_at: datetime


class CaseOut(BaseModel):
    id: int
    rail: str
    statement_date: str
    category: str
    line_key: str
    withdrawal_id: int | None
    evidence: dict[str, Any]
    status: str
    created_at: datetime
    resolved_at: datetime | None
    resolved_by_staff_id: int | None
    resolution_note: str | None


class ResolveIn(BaseModel):
    note: Text = Field(min_length=1, max_length=1000)
