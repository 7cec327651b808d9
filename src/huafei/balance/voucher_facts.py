"""The facts of a settled balance sale for its voucher (``vouchers.schemas.FactsBuilder``).

Read in a handful of queries for a whole batch of sales: the sales, then their quotes, rate
card versions and agreement acceptances, each with one ``IN``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.balance.models import BalanceSale, SaleState
from huafei.identity.validation import mask_phone
from huafei.orders.voucher_facts import agreement_facts, quote_facts
from huafei.rates.models import AgreementAcceptance, Quote, RateCardVersion
from huafei.vouchers.schemas import Amounts, QuoteFacts, VoucherFacts, VoucherKind

BALANCE_SALE = VoucherKind(code="balance_sale", prefix="BS", title="话费余额回收交易凭证")


def balance_sale_voucher_facts(
    session: Session, sale_ids: Sequence[int]
) -> dict[int, VoucherFacts]:
    """The voucher facts of each settled sale among ``sale_ids`` (others are left out)."""
    sales = session.scalars(
        select(BalanceSale).where(
            BalanceSale.id.in_(sale_ids), BalanceSale.state == SaleState.SETTLED.value
        )
    ).all()
    if not sales:
        return {}
    quotes = {
        q.id: q
        for q in session.scalars(select(Quote).where(Quote.id.in_({s.quote_id for s in sales})))
    }
    versions = {
        v.id: v
        for v in session.scalars(
            select(RateCardVersion).where(
                RateCardVersion.id.in_({s.rate_version_id for s in sales})
            )
        )
    }
    acceptances = {
        a.id: a
        for a in session.scalars(
            select(AgreementAcceptance).where(
                AgreementAcceptance.id.in_({s.agreement_acceptance_id for s in sales})
            )
        )
    }
    return {
        sale.id: _facts(
            sale,
            quote=quote_facts(
                quotes[sale.quote_id],
                versions[sale.rate_version_id],
                rate=sale.rate,
                payout_fen=sale.payout_fen,
            ),
            acceptance=acceptances[sale.agreement_acceptance_id],
        )
        for sale in sales
    }


def _facts(
    sale: BalanceSale, *, quote: QuoteFacts, acceptance: AgreementAcceptance
) -> VoucherFacts:
    settled_at = sale.settled_at or sale.updated_at
    return VoucherFacts(
        kind=BALANCE_SALE,
        owner_ref=sale.owner_ref,
        item={
            "carrier": sale.carrier,
            "phone_masked": mask_phone(sale.phone),
            "amount_fen": sale.amount_fen,
            "channel_ref": sale.channel_ref,
        },
        amounts=Amounts(gross_fen=sale.amount_fen, fee_fen=sale.fee_fen, net_fen=sale.payout_fen),
        ledger_ref=sale.ref,
        times={
            "submitted_at": sale.created_at,
            "transferred_at": sale.transferred_at,
            "settled_at": settled_at,
        },
        completed_at=settled_at,
        quote=quote,
        agreement=agreement_facts(acceptance),
    )
