"""Step 4 of a balance sale, the carrier's side, and the settlement: the units of work around
the carrier call (``tasks.py`` makes the call between them).

* ``begin_transfer``: the sale moves to ``transferring`` (committed before anything is sent);
  a sale already ``transferring`` was sent before and its answer never recorded, so the carrier
  is asked about it first (``query_transfer``) — a transfer the carrier never heard of is sent
  again under the same transfer id, which the carrier is idempotent on: never a second transfer.
* ``record_transferred``: the carrier confirmed. One linked chain posts the hold and books the
  fee and the escrow backing; the sale moves to ``settling`` and, at the profile's settlement
  time (reusing the card orders' rule), ``make_available`` moves the payout to the available
  wallet.
* ``record_refused``: the carrier refused; the hold is voided, the KYC usage released.
* ``answer_lost``: no answer (a timeout, a 5xx): the next query is planned, the pause doubling.

Settlement is ``service/settlement.py``.

Ledger (ids ``balance:{id}:…``, ``ref`` ``balance:{id}``):

| id | kind | debit | credit | amount |
|---|---|---|---|---|
| ``hold`` | pending | carrier balance inventory | seller's pending wallet | payout |
| ``owed`` | post of ``hold`` | | | payout |
| ``fee`` | single | carrier balance inventory | spread revenue | amount − payout |
| ``escrow`` | single | escrow | own funds | payout (client money backed at once) |
| ``void`` | void of ``hold`` | | | (a refusal) |
| ``available`` | single | seller's pending wallet | seller's available wallet | payout |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from huafei.balance.models import BalanceAuthorisation, BalanceSale, SaleState
from huafei.balance.service.authorisation import service_password
from huafei.balance.service.selling import hold_id
from huafei.balance.service.settlement import SETTLE_JOB, make_available, settle_job_key
from huafei.balance.service.timeline import Step, lock_sale, move, record
from huafei.carriers.gateway import (
    BalanceTransferRequest,
    BalanceTransferResult,
    Carrier,
    ChannelRefused,
)
from huafei.core.crypto import Keyring
from huafei.core.money import Money
from huafei.identity import limits
from huafei.identity.validation import mask_phone
from huafei.jobs.service import enqueue
from huafei.ledger import NewTransfer, TransferQueue, transfer_all
from huafei.ledger.chart import PLATFORM, Code, account_id
from huafei.ledger.models import TransferKind
from huafei.notices.service import NoticeKind, Notifier
from huafei.orders.settlement import settlement_time

WORKER = "worker"
#: the longest pause between two queries of a transfer whose answer was lost
MAX_CHECK_INTERVAL = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class TransferPlan:
    """What the job sends to the carrier for a sale."""

    sale_id: int
    carrier: Carrier
    request: BalanceTransferRequest
    in_doubt: bool
    """Sent before without a recorded answer: query the carrier before sending again."""


def begin_transfer(
    session: Session, sale_id: int, *, keyring: Keyring, now: datetime
) -> TransferPlan | None:
    """Mark a frozen sale ``transferring`` (one attempt counted) and plan its request; a sale
    already transferring is planned as in doubt. None when there is nothing to send."""
    sale = lock_sale(session, sale_id)
    if sale is None or sale.sale_state not in (SaleState.FROZEN, SaleState.TRANSFERRING):
        return None
    in_doubt = sale.sale_state is SaleState.TRANSFERRING
    if not in_doubt:
        sale.attempts += 1
        move(
            session, sale, SaleState.TRANSFERRING, step=Step.TRANSFERRING, actor=WORKER, now=now,
            detail=f"{Money(sale.amount_fen).format()} to {mask_phone(sale.to_phone)}",
        )  # fmt: skip
    authorisation = session.get(BalanceAuthorisation, sale.authorisation_id)
    if authorisation is None:  # pragma: no cover - a foreign key
        return None
    return TransferPlan(
        sale_id=sale.id,
        carrier=Carrier(sale.carrier),
        request=BalanceTransferRequest(
            transfer_id=sale.transfer_id or f"hfb{sale.id}",
            from_phone=sale.phone,
            to_phone=sale.to_phone,
            amount_fen=sale.amount_fen,
            service_password=service_password(keyring, authorisation),
        ),
        in_doubt=in_doubt,
    )


def count_resend(session: Session, sale_id: int, *, now: datetime) -> bool:
    """The carrier never heard of the transfer: count the resend (committed before it leaves);
    False when the sale moved on meanwhile."""
    sale = lock_sale(session, sale_id)
    if sale is None or sale.sale_state is not SaleState.TRANSFERRING:
        return False
    sale.attempts += 1
    sale.updated_at = now
    return True


def answer_lost(
    session: Session, sale_id: int, *, now: datetime, first_check: timedelta
) -> datetime:
    """No answer from the carrier: when to query it next (the pause doubling up to
    ``MAX_CHECK_INTERVAL``); the timeline says so the first time."""
    sale = lock_sale(session, sale_id)
    if sale is None or sale.sale_state is not SaleState.TRANSFERRING:
        return now
    if sale.check_every_seconds is None:
        every = first_check
        record(session, sale, Step.ANSWER_LOST, actor=WORKER, now=now, detail="querying")
    else:
        every = min(MAX_CHECK_INTERVAL, timedelta(seconds=sale.check_every_seconds * 2))
    sale.check_every_seconds = int(every.total_seconds())
    sale.updated_at = now
    return now + every


def record_transferred(
    session: Session,
    sale_id: int,
    result: BalanceTransferResult,
    *,
    now: datetime,
    notifier: Notifier,
) -> None:
    """The carrier confirmed the transfer: post the hold with the fee and the escrow backing,
    and settle (at once, or by a job at the profile's settlement time)."""
    sale = lock_sale(session, sale_id)
    if sale is None or sale.sale_state is not SaleState.TRANSFERRING:
        return  # recorded already (a repeated job)
    sale.channel_ref = result.channel_ref
    sale.transferred_at = now
    _forget_password(session, sale, now=now)
    record(session, sale, Step.TRANSFERRED, actor="carrier", now=now, detail=result.channel_ref)
    queue = TransferQueue()
    queue.add_chain(_transferred_chain(session, sale, now=now))
    settle = settlement_time(session, sale.profile_code, now)
    sale.settle_at, sale.settle_calendar = settle.at, settle.calendar
    move(session, sale, SaleState.SETTLING, step=Step.SETTLING, actor="platform", now=now)
    notifier.notify(
        session,
        owner_ref=sale.owner_ref,
        kind=NoticeKind.BALANCE_CHANGE,
        title="余额变动",
        body=(
            f"话费余额回收 {sale.id}：{Money(sale.amount_fen).format()} 已转入平台，"
            f"{Money(sale.payout_fen).format()} 计入待结算余额。"
        ),
        now=now,
        ref=sale.ref,
    )
    if settle.at <= now:
        make_available(session, sale, now=now, notifier=notifier, ledger=queue)
    else:
        enqueue(
            session, SETTLE_JOB, {"sale_id": sale.id}, now=now, run_at=settle.at,
            dedupe_key=settle_job_key(sale),
        )  # fmt: skip
    queue.flush(session, now=now)


def _transferred_chain(session: Session, sale: BalanceSale, *, now: datetime) -> list[NewTransfer]:
    """``owed`` (the hold posted), ``fee`` and ``escrow`` of the module's table."""
    platform = {
        code: account_id(session, code, PLATFORM, now=now)
        for code in (Code.CARRIER_BALANCE, Code.SPREAD_REVENUE, Code.ESCROW, Code.OWN_FUNDS)
    }
    chain = [
        NewTransfer(
            f"{sale.ref}:owed",
            amount=sale.payout_fen,
            kind=TransferKind.POST_PENDING,
            pending_id=hold_id(sale),
            ref=sale.ref,
            memo="balance transferred",
        )
    ]
    if sale.fee_fen:
        chain.append(
            NewTransfer(
                f"{sale.ref}:fee",
                platform[Code.CARRIER_BALANCE],
                platform[Code.SPREAD_REVENUE],
                sale.fee_fen,
                ref=sale.ref,
                memo="spread",
            )
        )
    chain.append(
        NewTransfer(
            f"{sale.ref}:escrow",
            platform[Code.ESCROW],
            platform[Code.OWN_FUNDS],
            sale.payout_fen,
            ref=sale.ref,
            memo="client money into escrow",
        )
    )
    return chain


def record_refused(
    session: Session,
    sale_id: int,
    refusal: ChannelRefused,
    *,
    now: datetime,
    notifier: Notifier,
) -> None:
    """The carrier refused the transfer (nothing moved): the sale fails, the hold is voided,
    the KYC usage released, the seller told."""
    sale = lock_sale(session, sale_id)
    if sale is None or sale.sale_state is not SaleState.TRANSFERRING:
        return
    reason = str(refusal.extra.get("reason") or refusal.reason)
    sale.failure_reason = reason[:64]
    _forget_password(session, sale, now=now)
    move(
        session, sale, SaleState.FAILED, step=Step.FAILED, actor="carrier", now=now,
        detail=f"{reason}: {refusal.detail}",
    )  # fmt: skip
    transfer_all(
        session,
        [
            NewTransfer(
                f"{sale.ref}:void",
                kind=TransferKind.VOID_PENDING,
                pending_id=hold_id(sale),
                ref=sale.ref,
                memo=f"carrier refused: {reason}",
            )
        ],
        now=now,
    )
    limits.release_usage(session, ref=sale.ref, now=now)
    notifier.notify(
        session,
        owner_ref=sale.owner_ref,
        kind=NoticeKind.ORDER_FAILED,
        title="话费余额未能转出",
        body=(
            f"话费余额回收 {sale.id}：运营商拒绝转赠（{refusal.title}），"
            f"冻结的 {Money(sale.payout_fen).format()} 已解除，话费未被扣除。"
        ),
        now=now,
        ref=sale.ref,
    )


def _forget_password(session: Session, sale: BalanceSale, *, now: datetime) -> None:
    """The service password is kept only until the carrier's answer is recorded."""
    authorisation = session.get(BalanceAuthorisation, sale.authorisation_id)
    if authorisation is not None and authorisation.service_password_enc is not None:
        authorisation.service_password_enc = None
        authorisation.updated_at = now
