"""充话费: consumption credit tops up any mainland phone number through the carrier's direct
top-up (直充), at a disclosed discount (``data/topup.json``).

The price is ``pricing``'s. A top-up's life, in short units of work around the carrier call
(``credit.sending``):

1. ``request_topup``: the number and amount checked, the price shown before is still the price,
   a row ``pending`` and a pending ledger transfer that holds the price on the credit
   (``topup:{id}:hold``, credit → credit held), and a check job for later — one transaction;
   too little credit is ``insufficient_credit`` and writes nothing;
2. ``begin_send`` counts the attempt; the carrier is asked with no transaction open, under the
   top-up's own ``topup_id`` (the carrier is idempotent on it);
3. ``record_topped_up``: the hold posted, the price paid out of the credit and escrow to the
   carrier, the discount paid by the platform (own funds → discount expense); ``succeeded``;
   ``record_refused``: the hold voided, the price is credit again; ``refused``;
4. an answer that never came leaves the top-up ``pending``; the check job asks the carrier
   (``query_topup``) before anything is sent again, so a lost answer never tops up twice.

Every transfer id derives from the top-up's id, and a final top-up is never moved again.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.carriers.gateway import Carrier, ChannelRefused, TopUpRequest, TopUpResult
from huafei.core.crypto import Keyring
from huafei.core.days import BEIJING
from huafei.core.money import Money
from huafei.credit import errors
from huafei.credit.models import CreditTopUp, TopUpStatus
from huafei.credit.service.pricing import TopUpTerms, insufficient, priced
from huafei.identity.validation import mask_phone
from huafei.jobs.service import enqueue
from huafei.ledger import NewTransfer, transfer_all
from huafei.ledger.chart import PLATFORM, Code, ensure_account
from huafei.ledger.errors import ExceedsCredits
from huafei.ledger.models import TransferKind
from huafei.notices.service import NoticeKind, Notifier
from huafei.payouts.service.common import add_unique
from huafei.wallets.reasons import Reason

PHONE_CONTEXT = "topup-phone"
CHECK_JOB = "credit.topup_check"


def new_topup_id(now: datetime) -> str:
    """``HFT`` + Beijing date + 12 random hex digits: unguessable, sortable by day, 23 chars."""
    return f"HFT{now.astimezone(BEIJING):%Y%m%d}{secrets.token_hex(6).upper()}"


@dataclass(frozen=True, slots=True)
class TopUpOrder:
    """A top-up to request: the owner, the number and amount as typed, the price they saw."""

    owner_ref: str
    phone: str
    face_value_fen: int
    idempotency_key: str
    expected_price_fen: int | None = None


def request_topup(
    session: Session,
    order: TopUpOrder,
    *,
    terms: TopUpTerms,
    keyring: Keyring,
    check_at: datetime,
    now: datetime,
) -> tuple[CreditTopUp, bool]:
    """Hold the price of a top-up on the owner's credit and record it ``pending``, with a check
    job at ``check_at``; returns it and whether it was made now (an earlier request with the
    same key returns its top-up). The carrier is asked afterwards (``credit.sending``)."""
    national, carrier, price = priced(order.phone, order.face_value_fen, terms)
    existing = _earlier(session, order, national, keyring)
    if existing is not None:
        return existing, False
    if order.expected_price_fen is not None and order.expected_price_fen != price:
        raise errors.TopUpPriceChanged(
            f"the price is now {Money(price).format()}",
            price_fen=price,
            expected_price_fen=order.expected_price_fen,
        )
    topup = _insert(session, order, national, carrier, price, terms, keyring, now)
    _hold(session, topup, now=now)
    enqueue(
        session,
        CHECK_JOB,
        {"topup_id": topup.id},
        now=now,
        run_at=check_at,
        dedupe_key=f"{CHECK_JOB}:{topup.id}",
        max_attempts=50,
    )
    return topup, True


def _earlier(
    session: Session, order: TopUpOrder, national: str, keyring: Keyring
) -> CreditTopUp | None:
    """The top-up an earlier request with this key made, if it asked for the same."""
    existing = session.scalars(
        select(CreditTopUp).where(
            CreditTopUp.owner_ref == order.owner_ref,
            CreditTopUp.idempotency_key == order.idempotency_key,
        )
    ).one_or_none()
    if existing is None:
        return None
    if existing.face_value_fen != order.face_value_fen or national != keyring.decrypt(
        existing.phone_cipher, context=PHONE_CONTEXT
    ):
        raise errors.TopUpIdempotencyConflict(
            "this idempotency key was used for another top-up", topup_id=existing.id
        )
    return existing


def _insert(
    session: Session,
    order: TopUpOrder,
    national: str,
    carrier: Carrier,
    price: int,
    terms: TopUpTerms,
    keyring: Keyring,
    now: datetime,
) -> CreditTopUp:
    topup = CreditTopUp(
        topup_id=new_topup_id(now),
        owner_ref=order.owner_ref,
        carrier=carrier.value,
        phone_cipher=keyring.encrypt(national, context=PHONE_CONTEXT),
        phone_masked=mask_phone(national),
        face_value_fen=order.face_value_fen,
        price_fen=price,
        discount_rate=terms.discount_rate,
        status=TopUpStatus.PENDING.value,
        idempotency_key=order.idempotency_key,
        send_attempts=0,
        created_at=now,
        updated_at=now,
    )
    add_unique(
        session,
        topup,
        errors.TopUpIdempotencyConflict("a top-up with this idempotency key is in progress"),
    )
    return topup


def _hold_id(topup: CreditTopUp) -> str:
    return f"topup:{topup.id}:hold"


def _hold(session: Session, topup: CreditTopUp, *, now: datetime) -> None:
    """Reserve the price on the credit (no timeout: a hold is never lost while the carrier may
    still top up); ``insufficient_credit`` when the credit does not cover it."""
    available = ensure_account(session, Code.CREDIT_AVAILABLE, topup.owner_ref, now=now)
    held = ensure_account(session, Code.CREDIT_HELD, topup.owner_ref, now=now)
    try:
        transfer_all(
            session,
            [
                NewTransfer(
                    _hold_id(topup), available.id, held.id, topup.price_fen,
                    kind=TransferKind.PENDING, code=Reason.TOPUP_HOLD, ref=topup.topup_id,
                    memo=f"top-up of {topup.phone_masked} held",
                )
            ],
            now=now,
        )  # fmt: skip
    except ExceedsCredits:
        session.refresh(available)
        raise insufficient(available.available, topup.price_fen) from None


def _locked(session: Session, topup_id: int) -> CreditTopUp:
    topup = session.scalars(
        select(CreditTopUp)
        .where(CreditTopUp.id == topup_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if topup is None:
        raise errors.TopUpNotFound(f"top-up {topup_id} not found")
    return topup


@dataclass(frozen=True, slots=True)
class SendPlan:
    """What goes to the carrier, decided (and the attempt counted) before the call."""

    carrier: Carrier
    request: TopUpRequest
    attempt: int


def begin_send(
    session: Session, *, topup_id: int, keyring: Keyring, now: datetime
) -> SendPlan | None:
    """Count a send attempt of a pending top-up; None when it is final already."""
    topup = _locked(session, topup_id)
    if topup.state.final:
        return None
    topup.send_attempts += 1
    topup.updated_at = now
    session.flush()
    return _plan(topup, keyring)


def pending_plan(session: Session, *, topup_id: int, keyring: Keyring) -> SendPlan | None:
    """What a pending top-up sends (for a query before sending again); None when final."""
    topup = session.get(CreditTopUp, topup_id)
    if topup is None or topup.state.final:
        return None
    return _plan(topup, keyring)


def _plan(topup: CreditTopUp, keyring: Keyring) -> SendPlan:
    return SendPlan(
        carrier=Carrier(topup.carrier),
        request=TopUpRequest(
            topup_id=topup.topup_id,
            phone=keyring.decrypt(topup.phone_cipher, context=PHONE_CONTEXT),
            amount_fen=topup.face_value_fen,
        ),
        attempt=topup.send_attempts,
    )


def record_topped_up(
    session: Session, *, topup_id: int, result: TopUpResult, notifier: Notifier, now: datetime
) -> CreditTopUp:
    """The carrier topped the number up: the held price is spent (paid to the carrier out of
    escrow) and the platform pays the discount; the owner is told."""
    topup = _locked(session, topup_id)
    if topup.state.final:
        return topup  # answered already (the call and the check raced)
    transfer_all(session, _spend_transfers(session, topup, now=now), now=now)
    topup.channel_ref = result.channel_ref[:64]
    _finish(
        session, topup, TopUpStatus.SUCCEEDED, notifier=notifier, now=now, title="充话费成功",
        body=(
            f"{topup.phone_masked} 已到账话费 {Money(topup.face_value_fen).format()}，"
            f"消费金支付 {Money(topup.price_fen).format()}"
            f"（优惠 {Money(topup.discount_fen).format()}）。"
        ),
    )  # fmt: skip
    return topup


def _finish(
    session: Session,
    topup: CreditTopUp,
    status: TopUpStatus,
    *,
    notifier: Notifier,
    now: datetime,
    title: str,
    body: str,
) -> None:
    """The top-up's final status, and the owner told (余额变动) in the same transaction."""
    topup.status = status.value
    topup.completed_at = topup.updated_at = now
    notifier.notify(
        session,
        owner_ref=topup.owner_ref,
        kind=NoticeKind.BALANCE_CHANGE,
        title=title,
        body=body,
        ref=topup.topup_id,
        now=now,
    )
    session.flush()


def _spend_transfers(session: Session, topup: CreditTopUp, *, now: datetime) -> list[NewTransfer]:
    """Post the hold; credit held → escrow for the price (client money leaves for the carrier);
    own funds → discount expense for the discount (the platform pays the rest of the face)."""
    held = ensure_account(session, Code.CREDIT_HELD, topup.owner_ref, now=now)
    escrow = ensure_account(session, Code.ESCROW, PLATFORM, now=now)
    ref, prefix = topup.topup_id, f"topup:{topup.id}"
    transfers = [
        NewTransfer(
            f"{prefix}:post", kind=TransferKind.POST_PENDING, pending_id=_hold_id(topup),
            code=Reason.TOPUP_POST, ref=ref, memo="top-up confirmed by the carrier",
        ),
        NewTransfer(
            f"{prefix}:paid", held.id, escrow.id, topup.price_fen, code=Reason.TOPUP_PAID,
            ref=ref, memo=f"top-up of {topup.phone_masked} paid to {topup.carrier}",
        ),
    ]  # fmt: skip
    if topup.discount_fen > 0:
        own_funds = ensure_account(session, Code.OWN_FUNDS, PLATFORM, now=now)
        expense = ensure_account(session, Code.DISCOUNT_EXPENSE, PLATFORM, now=now)
        transfers.append(
            NewTransfer(
                f"{prefix}:discount", expense.id, own_funds.id, topup.discount_fen,
                code=Reason.TOPUP_DISCOUNT, ref=ref, memo="top-up discount",
            )
        )  # fmt: skip
    return transfers


def record_refused(
    session: Session, *, topup_id: int, refusal: ChannelRefused, notifier: Notifier, now: datetime
) -> CreditTopUp:
    """The carrier refused: the hold is voided (the price is credit again); the owner is told."""
    topup = _locked(session, topup_id)
    if topup.state.final:
        return topup
    transfer_all(
        session,
        [
            NewTransfer(
                f"topup:{topup.id}:release", kind=TransferKind.VOID_PENDING,
                pending_id=_hold_id(topup), code=Reason.TOPUP_RELEASE, ref=topup.topup_id,
                memo="top-up refused by the carrier",
            )
        ],
        now=now,
    )  # fmt: skip
    topup.failure_code = refusal.code[:64]
    topup.failure_reason = refusal.detail[:255]
    _finish(
        session, topup, TopUpStatus.REFUSED, notifier=notifier, now=now, title="充话费未成功",
        body=(
            f"给 {topup.phone_masked} 充值 {Money(topup.face_value_fen).format()} 未成功，"
            f"运营商拒绝了充值；{Money(topup.price_fen).format()} 消费金已退回。"
        ),
    )  # fmt: skip
    return topup


def get_topup(session: Session, topup_id: int, owner_ref: str) -> CreditTopUp:
    """One of the owner's top-ups; ``topup_not_found`` for another's."""
    topup = session.get(CreditTopUp, topup_id)
    if topup is None or topup.owner_ref != owner_ref:
        raise errors.TopUpNotFound(f"top-up {topup_id} not found")
    return topup


def list_topups(session: Session, owner_ref: str, *, limit: int = 50) -> list[CreditTopUp]:
    """The owner's top-ups, newest first, at most 200."""
    return list(
        session.scalars(
            select(CreditTopUp)
            .where(CreditTopUp.owner_ref == owner_ref)
            .order_by(CreditTopUp.id.desc())
            .limit(max(1, min(limit, 200)))
        )
    )
