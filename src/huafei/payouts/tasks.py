"""Background work of the payout domain (built and registered by ``huafei.composition.runtime``).

The send and poll handlers talk to a rail over the network, so they do not use the job's own
session for that: they run short units of work of their own before and after the call and leave
the job's session to record the job's completion.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from huafei.core.clock import Clock
from huafei.core.days import BEIJING, local_day
from huafei.core.db import Database
from huafei.jobs.service import RetryLater
from huafei.jobs.worker import TaskRegistry
from huafei.payouts import escrow
from huafei.payouts.config import Payouts
from huafei.payouts.models import RailName, WithdrawalStatus
from huafei.payouts.rails.base import PayoutResult, PayoutStatus, RailError
from huafei.payouts.service import reconcile, settle
from huafei.payouts.service.common import POLL_JOB, SEND_JOB

log = logging.getLogger(__name__)

RECONCILE_JOB = "payouts.reconcile_daily"
ESCROW_JOB = "payouts.escrow_watch"
RECONCILE_EVERY = timedelta(hours=1)
ESCROW_EVERY = timedelta(seconds=60)
#: Rails publish the previous day's statement in the early morning (Beijing time).
STATEMENT_READY_HOUR = 6


@dataclass(frozen=True)
class PayoutTasks:
    db: Database
    clock: Clock
    payouts: Payouts

    def _retry_after(self, attempt: int) -> RetryLater:
        seconds = min(300, 2 ** min(attempt, 9))
        return RetryLater(self.clock.now() + timedelta(seconds=seconds))

    def send(self, _session: Session, payload: dict[str, Any]) -> RetryLater | None:
        withdrawal_id = int(payload["withdrawal_id"])
        plan = self.db.run(
            lambda s: settle.begin_send(
                s, payouts=self.payouts, withdrawal_id=withdrawal_id, now=self.clock.now()
            )
        )
        if plan is None:
            return None
        rail = self.payouts.rail(plan.rail)
        try:
            if plan.attempt > 1:
                # An earlier attempt may have reached the rail: ask before sending again.
                known = rail.query(plan.order.payout_id)
                if known.status is not PayoutStatus.UNKNOWN:
                    self._apply(withdrawal_id, known)
                    return None
            ack = rail.submit(plan.order)
        except RailError as exc:
            log.warning(
                "payout send uncertain; will query and retry",
                extra={"withdrawal_id": withdrawal_id, "attempt": plan.attempt, "error": exc.code},
            )
            return self._retry_after(plan.attempt)
        self.db.run(
            lambda s: settle.record_ack(
                s, payouts=self.payouts, withdrawal_id=withdrawal_id, ack=ack, now=self.clock.now()
            )
        )
        return None

    def poll(self, _session: Session, payload: dict[str, Any]) -> RetryLater | None:
        withdrawal_id = int(payload["withdrawal_id"])
        status, payout_id, rail_name = self.db.run(lambda s: settle.send_state(s, withdrawal_id))
        if status is not WithdrawalStatus.SENT:
            return None  # settled, or back with the send job
        try:
            result = self.payouts.rail(rail_name).query(payout_id)
        except RailError:
            return RetryLater(self.clock.now() + self.payouts.poll_interval)
        if result.status is PayoutStatus.UNKNOWN:
            self.db.run(
                lambda s: settle.requeue_send(s, withdrawal_id=withdrawal_id, now=self.clock.now())
            )
            return None
        if result.status.final:
            self._apply(withdrawal_id, result)
            return None
        return RetryLater(self.clock.now() + self.payouts.poll_interval)

    def _apply(self, withdrawal_id: int, result: PayoutResult) -> None:
        """Settle the withdrawal by what the rail answered to a query."""
        self.db.run(
            lambda s: settle.apply_queried(
                s,
                payouts=self.payouts,
                withdrawal_id=withdrawal_id,
                result=result,
                now=self.clock.now(),
            )
        )

    def reconcile_yesterday(self, _session: Session, _payload: dict[str, Any]) -> None:
        """Reconcile yesterday (Beijing time) on every rail that has no run for it yet, once the
        rails have closed the day (``STATEMENT_READY_HOUR``)."""
        now = self.clock.now()
        if now.astimezone(BEIJING).hour < STATEMENT_READY_HOUR:
            return
        day = local_day(now) - timedelta(days=1)
        for rail in RailName:
            if self._has_run(rail, day):
                continue
            data = self.payouts.rail(rail).fetch_statement(day)
            self._reconcile(rail, day, data)

    def _has_run(self, rail: RailName, day: date) -> bool:
        return self.db.run(lambda s: reconcile.has_run(s, rail=rail, day=day))

    def _reconcile(self, rail: RailName, day: date, data: bytes) -> None:
        def work(session: Session) -> None:
            reconcile.reconcile_statement(
                session,
                payouts=self.payouts,
                rail=rail,
                day=day,
                data=data,
                source="rail",
                now=self.clock.now(),
            )

        self.db.run(work)

    def watch_escrow(self, session: Session, _payload: dict[str, Any]) -> None:
        escrow.watch_escrow(session, notifier=self.payouts.notifier, now=self.clock.now())


def register_payout_tasks(registry: TaskRegistry, tasks: PayoutTasks) -> None:
    registry.task(SEND_JOB)(tasks.send)
    registry.task(POLL_JOB)(tasks.poll)
    registry.every(RECONCILE_JOB, RECONCILE_EVERY, tasks.reconcile_yesterday)
    registry.every(ESCROW_JOB, ESCROW_EVERY, tasks.watch_escrow)
