"""The facts of a settled card order for its voucher (``vouchers.schemas.FactsBuilder``).

Read in a handful of queries for a whole batch of orders: the orders, then their batches,
quotes, rate card versions, agreement acceptances and profiles, each with one ``IN``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.cards.secrets import mask_serial
from huafei.orders.models import Order, OrderBatch, OrderState
from huafei.rates.models import AgreementAcceptance, ChannelProfile, Quote, RateCardVersion
from huafei.vouchers.schemas import (
    AgreementFacts,
    Amounts,
    QuoteFacts,
    VoucherFacts,
    VoucherKind,
)

CARD_ORDER = VoucherKind(code="card_order", prefix="CO", title="话费充值卡回收交易凭证")


def order_voucher_facts(session: Session, order_ids: Sequence[int]) -> dict[int, VoucherFacts]:
    """The voucher facts of each settled order among ``order_ids`` (others are left out)."""
    orders = session.scalars(
        select(Order).where(Order.id.in_(order_ids), Order.state == OrderState.SETTLED.value)
    ).all()
    if not orders:
        return {}
    batches = {
        b.id: b
        for b in session.scalars(
            select(OrderBatch).where(OrderBatch.id.in_({o.batch_id for o in orders}))
        )
    }
    quotes = {
        q.id: q
        for q in session.scalars(
            select(Quote).where(Quote.id.in_({b.quote_id for b in batches.values()}))
        )
    }
    versions = {
        v.id: v
        for v in session.scalars(
            select(RateCardVersion).where(
                RateCardVersion.id.in_({o.rate_version_id for o in orders})
            )
        )
    }
    acceptances = {
        a.id: a
        for a in session.scalars(
            select(AgreementAcceptance).where(
                AgreementAcceptance.id.in_({b.agreement_acceptance_id for b in batches.values()})
            )
        )
    }
    profiles = {p.code: p for p in session.scalars(select(ChannelProfile))}
    facts = {}
    for order in orders:
        batch = batches[order.batch_id]
        profile = profiles.get(order.profile_code)
        facts[order.id] = _facts(
            order,
            quote=quote_facts(
                quotes[batch.quote_id],
                versions[order.rate_version_id],
                rate=order.rate,
                payout_fen=order.quoted_payout_fen,
            ),
            acceptance=acceptances[batch.agreement_acceptance_id],
            profile_name=profile.name_zh if profile is not None else order.profile_code,
        )
    return facts


def quote_facts(
    quote: Quote, version: RateCardVersion, *, rate: Decimal, payout_fen: int
) -> QuoteFacts:
    """A locked quote as a voucher prints it (balance sales' vouchers use it too)."""
    return QuoteFacts(
        id=quote.id,
        profile=quote.profile_code,
        rate_card_version=version.version,
        rate=rate,
        payout_fen=payout_fen,
        locked_at=quote.created_at,
        expires_at=quote.expires_at,
    )


def agreement_facts(acceptance: AgreementAcceptance) -> AgreementFacts:
    """An accepted agreement as a voucher prints it."""
    return AgreementFacts(
        version=acceptance.version, sha256=acceptance.sha256, accepted_at=acceptance.accepted_at
    )


def _facts(
    order: Order, *, quote: QuoteFacts, acceptance: AgreementAcceptance, profile_name: str
) -> VoucherFacts:
    settled_at = order.settled_at or order.updated_at
    actual = order.actual_face_value_fen or order.face_value_fen
    return VoucherFacts(
        kind=CARD_ORDER,
        owner_ref=order.owner_ref,
        item={
            "carrier": order.carrier,
            "serial_masked": mask_serial(order.serial),
            "face_value_fen": order.face_value_fen,
            "actual_face_value_fen": actual,
            "profile_name": profile_name,
            "lane": order.lane,
        },
        amounts=Amounts(
            gross_fen=actual, fee_fen=order.fee_fen or 0, net_fen=order.payout_fen or 0
        ),
        ledger_ref=f"order:{order.id}",
        times={
            "submitted_at": order.created_at,
            "consumed_at": order.consumed_at,
            "settled_at": settled_at,
        },
        completed_at=settled_at,
        quote=quote,
        agreement=agreement_facts(acceptance),
    )
