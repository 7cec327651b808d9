"""The order pipeline's background work. The queues are the tables themselves (worker sources,
``FOR UPDATE SKIP LOCKED``), so no job is written per card:

* ``orders.queued`` (source): queued orders are marked consuming with their first check time
  (committed first), then the cards go to the carrier channels outside any transaction, then
  what the channels answered is recorded.
* ``carriers.inbox`` (source): verified callbacks not yet handled move their orders, a batch per
  unit of work; one that fails on its own goes to an ``orders.consumption_result`` job, which
  retries it with backoff and keeps the error.
* ``orders.checks`` (source): a consuming order without a result by its check time — ask the
  channel; a consumption it has never heard of is sent again (the channel is idempotent on the
  consumption id); still processing: ask again later, the pause doubling up to 10 minutes. A card
  is never given up on while the channel may still consume it.
* ``orders.settle`` (job): at the profile's settlement time, pending becomes available.

``OrderTasks`` takes what the work needs (the database, the clock, the keyring, the channels,
the notifier); the composition root builds it and ``register_order_tasks`` puts its handlers in
the worker's registry.

Every handler is idempotent: a result for an order that is already past consuming (a duplicate,
late or out-of-order callback) changes nothing, so a card is consumed at most once and paid
exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.cards.secrets import decrypt_pin
from huafei.carriers.gateway import (
    Carrier,
    CarrierGateway,
    ConsumptionAck,
    ConsumptionRequest,
    ConsumptionResult,
    ConsumptionStatus,
    GatewayError,
)
from huafei.carriers.models import CarrierNotification
from huafei.carriers.service import (
    CONSUMPTION_RESULT_JOB,
    claim_unhandled,
    get_notifications,
    hand_to_job,
    mark_handled_many,
    unhandled_ids,
)
from huafei.core.clock import Clock
from huafei.core.crypto import Keyring
from huafei.core.db import Database
from huafei.identity import limits
from huafei.jobs.service import RetryLater
from huafei.jobs.worker import TaskRegistry
from huafei.ledger import TransferQueue
from huafei.notices.service import Notifier
from huafei.orders.conflicts import hold_conflict
from huafei.orders.models import Order, OrderState, consumption_id_for
from huafei.orders.service import (
    CONSUME_JOB,
    claim_queued,
    expire_held,
    lock_order,
    lock_orders,
)
from huafei.orders.settlement import (
    SETTLE_JOB,
    credit_consumed,
    fail_consumption,
    make_available,
)
from huafei.orders.state import transition

log = logging.getLogger(__name__)

CHECK_JOB = "orders.check_consumption"
CHECK_SOURCE = "orders.checks"
#: how often a worker looks for consuming orders due for a check
CHECK_SCAN_EVERY = timedelta(seconds=1)
QUEUED_SOURCE = "orders.queued"
INBOX_SOURCE = "carriers.inbox"
EXPIRE_HELD_JOB = "orders.expire_held"
EXPIRE_HELD_EVERY = timedelta(minutes=1)
MAX_CHECK_INTERVAL = timedelta(minutes=10)
CHANNEL = "channel"
#: cards handed to the channels at once by one worker
SEND_CONCURRENCY = 8


def apply_result(
    session: Session,
    order: Order,
    result: ConsumptionResult,
    *,
    now: datetime,
    notifier: Notifier,
    ledger: TransferQueue | None = None,
) -> bool:
    """Move a consuming order by the channel's final result; False when there is nothing to do
    (not final yet, or the order moved on already). Ledger transfers go to ``ledger`` when given
    (the caller flushes it before committing)."""
    if not result.status.final or order.order_state is not OrderState.CONSUMING:
        return False
    if result.channel_ref and order.channel_ref and result.channel_ref != order.channel_ref:
        # Not the consumption the channel accepted: it lost its record of that one (and then
        # answers, say, ``used`` for the card it consumed itself). The card may well be
        # consumed, so the order is held for an operator, never failed.
        hold_conflict(
            session,
            order,
            now=now,
            reason=(
                f"the channel answered {result.status.value} under {result.channel_ref}; "
                f"it accepted the card as {order.channel_ref}"
            ),
        )
        return True
    if result.channel_ref and not order.channel_ref:
        order.channel_ref = result.channel_ref
    if result.status is ConsumptionStatus.SUCCEEDED:
        actual = result.actual_face_value_fen or order.face_value_fen
        credit_consumed(
            session,
            order,
            actual_face_value_fen=actual,
            now=now,
            actor=CHANNEL,
            notifier=notifier,
            ledger=ledger,
        )
    else:
        fail_consumption(
            session,
            order,
            status=result.status,
            reason=result.reason,
            now=now,
            actor=CHANNEL,
            notifier=notifier,
        )
    return True


def take_due_checks(session: Session, *, now: datetime, limit: int) -> list[int]:
    """Consuming orders whose check is due, locked (other workers skip them) and pushed to their
    next check."""
    orders = session.scalars(
        select(Order)
        .where(Order.state == OrderState.CONSUMING.value, Order.check_at <= now)
        .order_by(Order.check_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for order in orders:
        every = timedelta(seconds=order.check_every_seconds or 30)
        order.check_at = now + every
        order.check_every_seconds = int(min(MAX_CHECK_INTERVAL, every * 2).total_seconds())
    return [order.id for order in orders]


def record_acks(session: Session, acks: dict[int, ConsumptionAck], *, now: datetime) -> None:
    """Record what the channels answered when they were handed the cards: an accepted card
    keeps its reference, a refused one fails (or is held for an operator when the channel had
    accepted it before)."""
    orders = lock_orders(session, acks)
    for order_id, ack in sorted(acks.items()):
        order = orders.get(order_id)
        if order is None or order.order_state is not OrderState.CONSUMING:
            continue
        if ack.accepted:
            order.channel_ref = order.channel_ref or ack.channel_ref
            continue
        if order.channel_ref:
            # Refused now, accepted before (a resend the channel no longer recognises).
            hold_conflict(
                session,
                order,
                now=now,
                reason=(
                    f"the channel refused a resend ({ack.reason or 'no reason'}); "
                    f"it accepted the card as {order.channel_ref}"
                ),
            )
            continue
        order.failure_reason = "rejected"
        transition(
            session,
            order,
            OrderState.FAILED,
            actor=CHANNEL,
            now=now,
            reason=ack.reason or "refused by the channel",
        )
        limits.release_usage(session, ref=f"order:{order.id}")


@dataclass
class OrderTasks:
    """The order pipeline's handlers, with what they need."""

    db: Database
    clock: Clock
    keyring: Keyring
    channels: Mapping[Carrier, CarrierGateway]
    notifier: Notifier
    #: the ``callback_url`` to hand a channel with each consumption request
    callback_url: Callable[[Carrier], str]
    #: when a card handed to its channel is first checked on
    first_check: timedelta
    _next_scan: datetime | None = field(default=None, init=False)

    # -- handing cards to the channels -------------------------------------------------------
    def request_for(self, order: Order) -> ConsumptionRequest:
        carrier = Carrier(order.carrier)
        return ConsumptionRequest(
            consumption_id=order.consumption_id,
            carrier=carrier,
            face_value_fen=order.face_value_fen,
            serial=order.serial,
            pin=decrypt_pin(self.keyring, order.pin_enc),
            callback_url=self.callback_url(carrier),
        )

    def hand_over(self, request: ConsumptionRequest) -> ConsumptionAck | None:
        """Give the card to its channel; None when the channel did not answer (the check job
        asks it later and sends again what it never received)."""
        try:
            return self.channels[request.carrier].submit_consumption(request)
        except GatewayError as exc:
            log.warning(
                "carrier channel did not take the card",
                extra={"consumption_id": request.consumption_id, "error": exc.code},
            )
            return None

    def send(self, order_id: int, request: ConsumptionRequest) -> None:
        ack = self.hand_over(request)
        if ack is not None:
            self.db.run(lambda s: record_acks(s, {order_id: ack}, now=self.clock.now()))

    def mark_consuming(
        self, session: Session, order_ids: list[int]
    ) -> dict[int, ConsumptionRequest]:
        requests: dict[int, ConsumptionRequest] = {}
        now = self.clock.now()
        first_check = self.first_check
        orders = lock_orders(session, order_ids)
        for order_id in sorted(order_ids):
            order = orders.get(order_id)
            if order is None or order.order_state is not OrderState.QUEUED:
                continue  # cancelled, or a repeated job
            if order.consumption_id.startswith("pending:"):
                order.consumption_id = consumption_id_for(order.id)
            order.sent_at = now
            order.send_attempts += 1
            order.check_at = now + first_check
            order.check_every_seconds = int(first_check.total_seconds())
            transition(session, order, OrderState.CONSUMING, actor="worker", now=now)
            requests[order_id] = self.request_for(order)
        return requests

    def consume(self, claim: Callable[[Session], list[int]]) -> int:
        # 1. mark the claimed orders consuming and plan their checks (committed before any card
        #    leaves);
        # 2. hand the cards to the channels concurrently, no transaction open;
        # 3. record the answers in one unit of work.
        requests = self.db.run(lambda s: self.mark_consuming(s, claim(s)))
        if not requests:
            return 0
        with ThreadPoolExecutor(max_workers=min(SEND_CONCURRENCY, len(requests))) as pool:
            answers = dict(zip(requests, pool.map(self.hand_over, requests.values()), strict=True))
        acks = {order_id: ack for order_id, ack in answers.items() if ack is not None}
        if acks:
            self.db.run(lambda s: record_acks(s, acks, now=self.clock.now()))
        return len(requests)

    def consume_queued(self, limit: int) -> int:
        """The queued orders are the consumption queue."""
        return self.consume(lambda s: claim_queued(s, limit))

    def consume_jobs(self, payloads: list[dict[str, Any]]) -> None:
        # Jobs enqueued by an earlier version; new orders are taken by ``consume_queued``.
        self.consume(lambda _s: [int(p["order_id"]) for p in payloads])

    # -- checking on cards without a result ------------------------------------------------------
    def _load_request(self, session: Session, order_id: int) -> ConsumptionRequest | None:
        order = session.get(Order, order_id)
        if order is None or order.order_state is not OrderState.CONSUMING:
            return None
        return self.request_for(order)

    def ask_channel(self, order_id: int) -> None:
        """No result yet: ask the channel. A consumption it never heard of is sent again (it is
        idempotent on the consumption id); a final answer moves the order; anything else waits
        for the next check."""
        request = self.db.run(lambda s: self._load_request(s, order_id))
        if request is None:
            return
        try:
            result = self.channels[request.carrier].query_consumption(request.consumption_id)
        except GatewayError:
            return
        if result.status is ConsumptionStatus.UNKNOWN:
            # A resend is an attempt like the first: counted (committed) before the card leaves.
            if self.db.run(partial(_count_attempt, order_id)):
                self.send(order_id, request)
            return
        if result.status.final:
            self.db.run(partial(self._apply_checked, order_id, result))

    def _apply_checked(self, order_id: int, result: ConsumptionResult, session: Session) -> None:
        order = lock_order(session, order_id)
        if order is not None:
            apply_result(session, order, result, now=self.clock.now(), notifier=self.notifier)

    def check_due(self, limit: int) -> int:
        """Consuming orders whose check is due: each is pushed to its next check (doubling, at
        most ``MAX_CHECK_INTERVAL``) in the same unit of work that takes it, then the channel is
        asked. A worker that dies in between leaves the order for the next check."""
        now = self.clock.now()
        if self._next_scan is not None and now < self._next_scan:
            return 0  # nothing became due since (checks are seconds apart): save the query
        taken = self.db.run(lambda s: take_due_checks(s, now=now, limit=limit))
        # A full batch may have left more: scan again at once next round.
        self._next_scan = None if len(taken) == limit else now + CHECK_SCAN_EVERY
        for order_id in taken:
            self.ask_channel(order_id)
        return len(taken)

    def check(self, payload: dict[str, Any]) -> RetryLater | None:
        # Check jobs planned by an earlier version; new orders are checked by ``check_due``.
        self.ask_channel(int(payload["order_id"]))
        return None

    # -- the channels' results -------------------------------------------------------------------
    def apply_notifications(
        self, session: Session, notifications: list[CarrierNotification]
    ) -> None:
        if not notifications:
            return
        now = self.clock.now()
        wanted = {n.consumption_id for n in notifications}
        rows = session.execute(
            select(Order.consumption_id, Order.id).where(Order.consumption_id.in_(wanted))
        )
        order_ids: dict[str, int] = {row[0]: row[1] for row in rows}
        orders = lock_orders(session, order_ids.values())
        ledger = TransferQueue()
        for notification in notifications:
            result = notification.to_result()
            order = orders.get(order_ids.get(result.consumption_id, 0))
            if order is None:
                log.warning(
                    "callback for an unknown consumption", extra={"inbox_id": notification.id}
                )
                continue
            apply_result(session, order, result, now=now, notifier=self.notifier, ledger=ledger)
        ledger.flush(session, now=now)
        mark_handled_many(session, [n.id for n in notifications], now=now)

    def drain_inbox(self, limit: int) -> int:
        """The carrier inbox's unhandled rows are the results queue: a batch is applied in one
        unit of work; if it fails, each is tried alone, and one that fails alone goes to a job
        with retries."""

        def work(session: Session) -> int:
            notifications = claim_unhandled(session, limit)
            self.apply_notifications(session, notifications)
            return len(notifications)

        try:
            return self.db.run(work)
        except Exception:
            log.exception("applying a batch of carrier results failed; trying them one by one")
        handled = 0
        for inbox_id in self.db.run(lambda s: unhandled_ids(s, limit)):
            try:
                self.db.run(partial(self._apply_one, inbox_id))
            except Exception:
                log.exception("carrier result handed to a job", extra={"inbox_id": inbox_id})
                self.db.run(partial(self._hand_to_job, inbox_id))
            handled += 1
        return handled

    def _apply_one(self, inbox_id: int, session: Session) -> None:
        self.apply_notifications(session, get_notifications(session, [inbox_id]))

    def _hand_to_job(self, inbox_id: int, session: Session) -> None:
        hand_to_job(session, inbox_id, now=self.clock.now())

    def consumption_results(self, payloads: list[dict[str, Any]]) -> None:
        inbox_ids = sorted({int(p["inbox_id"]) for p in payloads})
        self.db.run(lambda s: self.apply_notifications(s, get_notifications(s, inbox_ids)))

    # -- held orders and settlement ----------------------------------------------------------
    def expire_held(self, session: Session, _payload: dict[str, Any]) -> None:
        expire_held(session, now=self.clock.now())

    def settle(self, payloads: list[dict[str, Any]]) -> None:
        order_ids = sorted(int(p["order_id"]) for p in payloads)

        def work(session: Session) -> None:
            now = self.clock.now()
            ledger = TransferQueue()
            for order in lock_orders(session, order_ids).values():
                make_available(
                    session,
                    order,
                    now=now,
                    actor="settlement",
                    notifier=self.notifier,
                    ledger=ledger,
                )
            ledger.flush(session, now=now)

        self.db.run(work)


def _count_attempt(order_id: int, session: Session) -> bool:
    order = lock_order(session, order_id)
    if order is None or order.order_state is not OrderState.CONSUMING:
        return False
    order.send_attempts += 1
    return True


def register_order_tasks(registry: TaskRegistry, tasks: OrderTasks) -> None:
    registry.source(QUEUED_SOURCE)(tasks.consume_queued)
    registry.batch_task(CONSUME_JOB)(tasks.consume_jobs)
    registry.source(CHECK_SOURCE)(tasks.check_due)
    registry.task_with_own_transactions(CHECK_JOB)(tasks.check)
    registry.source(INBOX_SOURCE)(tasks.drain_inbox)
    registry.batch_task(CONSUMPTION_RESULT_JOB)(tasks.consumption_results)
    registry.every(EXPIRE_HELD_JOB, EXPIRE_HELD_EVERY, tasks.expire_held)
    registry.batch_task(SETTLE_JOB)(tasks.settle)
