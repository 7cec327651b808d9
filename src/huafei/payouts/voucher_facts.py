"""The facts of a paid withdrawal for its voucher (``vouchers.schemas.FactsBuilder``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.payouts.models import PayoutMethod, Withdrawal, WithdrawalStatus
from huafei.vouchers.schemas import Amounts, VoucherFacts, VoucherKind

WITHDRAWAL = VoucherKind(code="withdrawal", prefix="WD", title="提现交易凭证")


def withdrawal_voucher_facts(
    session: Session, withdrawal_ids: Sequence[int]
) -> dict[int, VoucherFacts]:
    """The voucher facts of each paid withdrawal among ``withdrawal_ids`` (others are left
    out): the amount, the fee, the masked destination account, the rail's reference."""
    withdrawals = session.scalars(
        select(Withdrawal).where(
            Withdrawal.id.in_(withdrawal_ids),
            Withdrawal.status == WithdrawalStatus.PAID.value,
        )
    ).all()
    methods = {
        m.id: m
        for m in session.scalars(
            select(PayoutMethod).where(PayoutMethod.id.in_({w.method_id for w in withdrawals}))
        )
    }
    # A paid withdrawal always has its method (a carrier-wallet payout gets one when first sent).
    return {w.id: _facts(w, methods[w.method_id]) for w in withdrawals if w.method_id is not None}


def _facts(withdrawal: Withdrawal, method: PayoutMethod) -> VoucherFacts:
    paid_at = withdrawal.completed_at or withdrawal.updated_at
    return VoucherFacts(
        kind=WITHDRAWAL,
        owner_ref=withdrawal.owner_ref,
        item={
            "payout_id": withdrawal.payout_id,
            "method": method.kind,
            "bank_name": method.bank_name,
            "account_masked": method.account_masked,
            "holder_masked": method.holder_name_masked,
            "rail": withdrawal.rail,
            "rail_ref": withdrawal.rail_ref,
        },
        amounts=Amounts(
            gross_fen=withdrawal.total_fen,
            fee_fen=withdrawal.fee_fen,
            net_fen=withdrawal.amount_fen,
            currency=withdrawal.currency,
        ),
        ledger_ref=withdrawal.payout_id,
        times={
            "requested_at": withdrawal.created_at,
            "sent_at": withdrawal.sent_at,
            "paid_at": paid_at,
        },
        completed_at=paid_at,
    )
