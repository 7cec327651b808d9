"""Carrier-wallet payouts: where the carrier-official profile's money goes.

When an order of a carrier-wallet profile settles, its proceeds are not left in the withdrawable
wallet: ``pay_out_settlement`` makes a withdrawal to the carrier wallet (和包, 沃钱包, 翼支付) of
the seller's verified phone number in the same unit of work, so the money passes through the
available balance already held. From there it is an ordinary withdrawal on the fifth rail,
``carrier_wallet``: its own state machine, the send job, signed callbacks, polls and the daily
reconciliation, exactly as the other four rails.

* no fee (the profile's rate pays for it), no approval and no withdrawal limits: the seller
  asked for nothing; the order went through its own limits when it was submitted;
* the payout method is pinned when the payout is first sent (``method_for``): the wallet of the
  seller's phone number, stored encrypted like any account and listed with their accounts;
* a payout the rail fails (a wallet not opened, frozen …) returns its amount to the available
  balance, from where the seller withdraws it another way; they are told so.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.core.crypto import Keyring
from huafei.identity.models import Seller
from huafei.ledger import NewTransfer, TransferQueue
from huafei.payouts.accounts import Bank, CheckedAccount
from huafei.payouts.models import (
    MethodKind,
    PayoutMethod,
    RailName,
    Withdrawal,
    WithdrawalStatus,
)
from huafei.payouts.policy import default_policy
from huafei.payouts.seams import seller_id_of
from huafei.payouts.service import holds, methods
from huafei.payouts.service.common import enqueue_send, record_event
from huafei.payouts.service.requesting import new_payout_id

#: Each carrier's wallet, as the payout method shows it (``bank_code`` is the carrier).
WALLETS: dict[str, Bank] = {
    "cmcc": Bank("cmcc", "中国移动和包", "China Mobile Hebao"),
    "cucc": Bank("cucc", "中国联通沃钱包", "China Unicom Wo Wallet"),
    "ctcc": Bank("ctcc", "中国电信翼支付", "China Telecom Bestpay"),
}
#: The idempotency key of a settlement's payout: one per settled reference.
SETTLEMENT_KEY = "settlement:{ref}"


def pay_out_settlement(
    session: Session,
    *,
    owner_ref: str,
    amount_fen: int,
    ref: str,
    funded_by: NewTransfer,
    now: datetime,
    ledger: TransferQueue,
) -> Withdrawal:
    """Pay ``amount_fen`` that ``funded_by`` brings to the owner's available balance straight
    out to their carrier wallet: a queued withdrawal on the carrier-wallet rail whose hold is
    chained after ``funded_by`` in ``ledger`` (the caller flushes it), and its send job. A
    reference paid out before returns its withdrawal and moves nothing again."""
    key = SETTLEMENT_KEY.format(ref=ref)
    earlier = session.scalars(
        select(Withdrawal).where(
            Withdrawal.owner_ref == owner_ref, Withdrawal.idempotency_key == key
        )
    ).one_or_none()
    if earlier is not None:
        return earlier
    policy = default_policy()
    withdrawal = Withdrawal(
        payout_id=new_payout_id(now),
        owner_ref=owner_ref,
        method_id=None,
        rail=RailName.CARRIER_WALLET.value,
        profile=policy.profile_for(owner_ref).name,
        amount_fen=amount_fen,
        fee_fen=0,
        currency=policy.currency,
        status=WithdrawalStatus.QUEUED.value,
        idempotency_key=key,
        approvals_required=0,
        send_attempts=0,
        created_at=now,
        updated_at=now,
    )
    session.add(withdrawal)
    session.flush()
    ledger.add_chain([funded_by, *holds.hold_transfers(session, withdrawal, now=now)])
    record_event(
        session, withdrawal, "requested", now=now, actor="system", amount_fen=amount_fen,
        fee_fen=0, settles=ref,
    )  # fmt: skip
    enqueue_send(session, withdrawal, now=now)
    return withdrawal


def method_for(
    session: Session, withdrawal: Withdrawal, *, keyring: Keyring, now: datetime
) -> PayoutMethod:
    """The payout method a withdrawal is sent to; a settlement's carrier-wallet payout gets
    the wallet of its owner's phone number now (``ensure_method``) and keeps it."""
    if withdrawal.method_id is None:
        method = ensure_method(session, owner_ref=withdrawal.owner_ref, keyring=keyring, now=now)
        withdrawal.method_id = method.id
        return method
    found = session.get(PayoutMethod, withdrawal.method_id)
    if found is None:  # pragma: no cover - a foreign key guarantees it
        raise LookupError(f"payout method {withdrawal.method_id} vanished")
    return found


def ensure_method(
    session: Session, *, owner_ref: str, keyring: Keyring, now: datetime
) -> PayoutMethod:
    """The owner's carrier-wallet method: the wallet of the seller's verified phone number at
    its carrier, added (encrypted, masked) the first time and found again after."""
    seller_id = seller_id_of(owner_ref)
    seller = session.get(Seller, seller_id) if seller_id is not None else None
    if seller is None:
        raise LookupError(f"{owner_ref} has no verified phone number for a carrier wallet")
    kind = MethodKind.CARRIER_WALLET
    lookup = methods.account_lookup(keyring, kind, seller.phone)
    existing = methods.active_method_by_lookup(session, owner_ref, lookup)
    if existing is not None:
        return existing
    checked = CheckedAccount(
        kind, seller.phone, f"{seller.phone[:3]}****{seller.phone[-4:]}", WALLETS[seller.carrier]
    )
    holder = seller.real_name(keyring) or ""
    return methods.insert_method(session, owner_ref, kind, checked, lookup, holder, keyring, now)
