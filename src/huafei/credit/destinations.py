"""Where a settled order's money goes: ``credit_seller``, the one call every settlement makes.

An order (a card, a balance sale) credits its payout to the seller's pending wallet when it is
consumed; when it settles, the profile's destination (``rates.models.Destination``) decides where
that money goes:

* ``cash`` — ``{ref}:available``: pending → available wallet, withdrawn by the seller as they
  choose (the third-party model);
* ``carrier_wallet`` — the same transfer, chained with the hold of a withdrawal to the carrier
  wallet of the seller's phone number, so the money is paid out at once by the carrier-wallet
  rail and is never free to withdraw (the official model; ``payouts.service.carrier_wallet``);
* ``consumption_credit`` — ``{ref}:credit``: pending → the seller's consumption credit (消费金),
  which tops up phone numbers and is never withdrawn (the social model; ``credit.service``).

Each move is one chain of ledger transfers whose ids derive from ``ref``, so a repeated
settlement cannot move the money twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from huafei.core.money import Money
from huafei.ledger import NewTransfer, TransferQueue
from huafei.ledger.chart import Code, account_id
from huafei.notices.service import NoticeKind, Notifier
from huafei.payouts.service.carrier_wallet import pay_out_settlement
from huafei.rates.models import Destination
from huafei.wallets.reasons import Reason

#: What the seller is told when the money arrives, by destination (``{subject}`` names the
#: order, ``{amount}`` is formatted money).
ARRIVED = {
    Destination.CASH: "{subject} 已结算，{amount} 已到可用余额。",
    Destination.CARRIER_WALLET: "{subject} 已结算，{amount} 正在转入您手机号的运营商钱包。",
    Destination.CONSUMPTION_CREDIT: "{subject} 已结算，{amount} 已转入消费金，可用于充话费。",
}


def credit_seller(
    session: Session,
    *,
    destination: Destination,
    owner_ref: str,
    amount_fen: int,
    ref: str,
    subject: str,
    now: datetime,
    notifier: Notifier,
    ledger: TransferQueue | None = None,
) -> None:
    """Move ``amount_fen`` of settled proceeds, which sit in the owner's pending wallet, to
    where ``destination`` says, and tell the owner (到账通知, about ``subject``: "订单 12").

    ``ref`` is the order's ledger reference (``order:12``); the transfers go to ``ledger`` when
    given (the caller flushes it before committing), else they are created here.
    """
    queue = TransferQueue() if ledger is None else ledger
    if amount_fen > 0:
        _MOVES[destination](session, owner_ref, amount_fen, ref, now, queue)
    notifier.notify(
        session,
        owner_ref=owner_ref,
        kind=NoticeKind.FUNDS_ARRIVED,
        title="到账通知",
        body=ARRIVED[destination].format(subject=subject, amount=Money(amount_fen).format()),
        now=now,
        ref=ref,
    )
    if ledger is None:
        queue.flush(session, now=now)


def _available(
    session: Session, owner_ref: str, amount_fen: int, ref: str, now: datetime
) -> NewTransfer:
    """Pending → available wallet: the proceeds are the owner's to withdraw."""
    return NewTransfer(
        f"{ref}:available",
        account_id(session, Code.WALLET_PENDING, owner_ref, now=now),
        account_id(session, Code.WALLET_AVAILABLE, owner_ref, now=now),
        amount_fen,
        ref=ref,
        memo="settled",
    )


def _to_cash(
    session: Session, owner_ref: str, amount_fen: int, ref: str, now: datetime, queue: TransferQueue
) -> None:
    queue.add_chain([_available(session, owner_ref, amount_fen, ref, now)])


def _to_carrier_wallet(
    session: Session, owner_ref: str, amount_fen: int, ref: str, now: datetime, queue: TransferQueue
) -> None:
    pay_out_settlement(
        session,
        owner_ref=owner_ref,
        amount_fen=amount_fen,
        ref=ref,
        funded_by=_available(session, owner_ref, amount_fen, ref, now),
        now=now,
        ledger=queue,
    )


def _to_consumption_credit(
    session: Session, owner_ref: str, amount_fen: int, ref: str, now: datetime, queue: TransferQueue
) -> None:
    queue.add_chain(
        [
            NewTransfer(
                f"{ref}:credit",
                account_id(session, Code.WALLET_PENDING, owner_ref, now=now),
                account_id(session, Code.CREDIT_AVAILABLE, owner_ref, now=now),
                amount_fen,
                code=Reason.CREDIT_EARNED,
                ref=ref,
                memo="settled into consumption credit",
            )
        ]
    )


_Move = Callable[[Session, str, int, str, datetime, TransferQueue], None]
_MOVES: dict[Destination, _Move] = {
    Destination.CASH: _to_cash,
    Destination.CARRIER_WALLET: _to_carrier_wallet,
    Destination.CONSUMPTION_CREDIT: _to_consumption_credit,
}
