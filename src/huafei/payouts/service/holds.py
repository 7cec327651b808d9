"""The ledger side of a withdrawal: hold, then post (paid) or release (failed), by fixed ids.

* hold: pending ``available → held`` for the amount and pending ``available → fee revenue``
  for the fee, so the owner's available balance drops by both at once;
* post: both holds posted, then ``held → escrow`` for the amount — the money leaves the wallet
  and the escrow account together, so escrow still covers every wallet;
* release: both holds voided; everything is available again.

Every transfer id derives from the withdrawal id, so a retry or a second worker cannot move the
money twice: the ledger answers a repeated id with the stored transfer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from huafei.core.money import Money
from huafei.ledger import NewTransfer, transfer_all
from huafei.ledger.chart import PLATFORM, Code, ensure_account, ensure_wallet
from huafei.ledger.errors import ExceedsCredits
from huafei.ledger.models import TransferKind
from huafei.payouts import errors
from huafei.payouts.models import Withdrawal
from huafei.wallets.reasons import Reason


def hold_id(withdrawal_id: int) -> str:
    """The id of the pending transfer that holds the amount."""
    return f"withdrawal:{withdrawal_id}:hold"


def fee_hold_id(withdrawal_id: int) -> str:
    """The id of the pending transfer that holds the fee."""
    return f"withdrawal:{withdrawal_id}:fee-hold"


def payout_transfer_id(withdrawal_id: int) -> str:
    """The id of the transfer that pays the amount out (held → escrow)."""
    return f"withdrawal:{withdrawal_id}:payout"


def hold_transfers(session: Session, withdrawal: Withdrawal, *, now: datetime) -> list[NewTransfer]:
    """The pending transfers that reserve amount + fee on the owner's available balance (no
    timeout: a hold in flight is never lost to an expiry while the rail may still pay)."""
    wallet = ensure_wallet(session, withdrawal.owner_ref, now=now)
    fee_revenue = ensure_account(session, Code.FEE_REVENUE, PLATFORM, now=now)
    available = wallet[Code.WALLET_AVAILABLE]
    held = wallet[Code.WALLET_HELD]
    return [
        NewTransfer(
            id=transfer_id,
            debit_account_id=available.id,
            credit_account_id=credit_id,
            amount=amount,
            currency=withdrawal.currency,
            kind=TransferKind.PENDING,
            code=code,
            ref=withdrawal.payout_id,
            memo=memo,
        )
        for transfer_id, credit_id, amount, code, memo in (
            (hold_id(withdrawal.id), held.id, withdrawal.amount_fen, Reason.WITHDRAWAL_HOLD,
             "withdrawal held"),
            (fee_hold_id(withdrawal.id), fee_revenue.id, withdrawal.fee_fen,
             Reason.WITHDRAWAL_FEE_HOLD, "withdrawal fee held"),
        )
        if amount  # no fee, no fee hold
    ]  # fmt: skip


def hold(session: Session, withdrawal: Withdrawal, *, now: datetime) -> None:
    """Reserve amount + fee on the owner's available balance; ``InsufficientBalance`` when it
    does not cover them."""
    try:
        transfer_all(session, hold_transfers(session, withdrawal, now=now), now=now)
    except ExceedsCredits:
        available = ensure_wallet(session, withdrawal.owner_ref, now=now)[Code.WALLET_AVAILABLE]
        session.refresh(available)
        available_fen = available.available
        raise errors.InsufficientBalance(
            f"available {Money(available_fen)}; this withdrawal needs "
            f"{Money(withdrawal.total_fen)} including the fee",
            available_fen=available_fen,
            needed_fen=withdrawal.total_fen,
        ) from None


#: what a step does to the amount's hold and to the fee's: transfer id suffix, reason, memo
_Step = tuple[str, Reason, str]


def _end_holds(
    withdrawal: Withdrawal, kind: TransferKind, amount_step: _Step, fee_step: _Step
) -> list[NewTransfer]:
    """Post or void (``kind``) the amount's hold and, if there is a fee, the fee's."""
    steps = [(hold_id(withdrawal.id), amount_step)]
    if withdrawal.fee_fen:
        steps.append((fee_hold_id(withdrawal.id), fee_step))
    return [
        NewTransfer(
            id=f"withdrawal:{withdrawal.id}:{suffix}",
            kind=kind,
            pending_id=pending_id,
            currency=withdrawal.currency,
            code=code,
            ref=withdrawal.payout_id,
            memo=memo,
        )
        for pending_id, (suffix, code, memo) in steps
    ]


def post(session: Session, withdrawal: Withdrawal, *, now: datetime) -> None:
    """The rail paid: post the holds and pay the amount out of the wallet and escrow."""
    wallet = ensure_wallet(session, withdrawal.owner_ref, now=now)
    escrow = ensure_account(session, Code.ESCROW, PLATFORM, now=now)
    transfers = _end_holds(
        withdrawal,
        TransferKind.POST_PENDING,
        ("post", Reason.WITHDRAWAL_POST, "withdrawal confirmed by the rail"),
        ("fee", Reason.WITHDRAWAL_FEE, "withdrawal fee"),
    )
    transfers.append(
        NewTransfer(
            id=payout_transfer_id(withdrawal.id),
            debit_account_id=wallet[Code.WALLET_HELD].id,
            credit_account_id=escrow.id,
            amount=withdrawal.amount_fen,
            currency=withdrawal.currency,
            code=Reason.WITHDRAWAL_PAID_OUT,
            ref=withdrawal.payout_id,
            memo=f"paid out via {withdrawal.rail}",
        )
    )
    transfer_all(session, transfers, now=now)


def release(session: Session, withdrawal: Withdrawal, *, now: datetime) -> None:
    """Nothing was paid: void both holds; amount and fee are available again."""
    transfers = _end_holds(
        withdrawal,
        TransferKind.VOID_PENDING,
        ("release", Reason.WITHDRAWAL_RELEASE, "withdrawal returned"),
        ("fee-release", Reason.WITHDRAWAL_FEE_RELEASE, "withdrawal fee returned"),
    )
    transfer_all(session, transfers, now=now)
