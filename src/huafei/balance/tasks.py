"""Balance recycling's background work:

* ``balance.transfer`` (a job per sale, its own units of work): the sale is marked
  ``transferring`` (committed), the carrier is asked with no transaction open, its answer is
  recorded. No answer (a timeout, a 5xx): the job comes back later (``RetryLater``, the pause
  doubling up to 10 minutes) and *queries* the transfer by its id; one the carrier never heard
  of is sent again under the same id, which the carrier is idempotent on. A sale is never given
  up while the carrier may have moved the balance.
* ``balance.settle`` (job): at the profile's settlement time, pending becomes available.
* ``balance.forget_passwords`` (every 10 minutes): authorisations that expired unused keep no
  service password.

Every handler is idempotent: a sale that moved on already is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from huafei.balance.service.reading import forget_unused_passwords
from huafei.balance.service.selling import TRANSFER_JOB
from huafei.balance.service.settlement import SETTLE_JOB, settle
from huafei.balance.service.transfer import (
    TransferPlan,
    answer_lost,
    begin_transfer,
    count_resend,
    record_refused,
    record_transferred,
)
from huafei.carriers.gateway import (
    BalanceTransferResult,
    Carrier,
    CarrierGateway,
    ChannelRefused,
    GatewayError,
)
from huafei.core.clock import Clock
from huafei.core.crypto import Keyring
from huafei.core.db import Database
from huafei.jobs.service import RetryLater
from huafei.jobs.worker import TaskRegistry
from huafei.notices.service import Notifier

log = logging.getLogger(__name__)

FORGET_PASSWORDS_JOB = "balance.forget_passwords"
FORGET_PASSWORDS_EVERY = timedelta(minutes=10)


@dataclass
class BalanceTasks:
    """The balance sale's handlers, with what they need."""

    db: Database
    clock: Clock
    keyring: Keyring
    channels: Mapping[Carrier, CarrierGateway]
    notifier: Notifier
    #: how long after a lost answer the carrier is first asked about the transfer
    first_check: timedelta

    def transfer(self, payload: dict[str, Any]) -> RetryLater | None:
        """Send the sale's transfer, or find out what became of one sent before."""
        sale_id = int(payload["sale_id"])
        plan = self.db.run(
            lambda s: begin_transfer(s, sale_id, keyring=self.keyring, now=self.clock.now())
        )
        if plan is None:
            return None
        channel = self.channels[plan.carrier]
        try:
            result = self._send(channel, plan)
        except ChannelRefused as refusal:
            self.db.run(partial(self._refused, sale_id, refusal))
            return None
        except GatewayError as exc:
            log.warning(
                "carrier transfer without an answer; it will be queried",
                extra={"sale_id": sale_id, "error": exc.code},
            )
            return RetryLater(self.db.run(partial(self._lost, sale_id)))
        if result is not None:
            self.db.run(partial(self._transferred, sale_id, result))
        return None

    def _send(self, channel: CarrierGateway, plan: TransferPlan) -> BalanceTransferResult | None:
        """The transfer's answer: asked about first when it was sent before, and sent (again,
        under the same id) only when the carrier never carried it out. None: the sale moved on."""
        if plan.in_doubt:
            found = channel.query_transfer(plan.request.transfer_id)
            if found is not None:
                return found
            if not self.db.run(partial(self._count_resend, plan.sale_id)):
                return None
        return channel.transfer_balance(plan.request)

    def _count_resend(self, sale_id: int, session: Session) -> bool:
        return count_resend(session, sale_id, now=self.clock.now())

    def _refused(self, sale_id: int, refusal: ChannelRefused, session: Session) -> None:
        record_refused(session, sale_id, refusal, now=self.clock.now(), notifier=self.notifier)

    def _lost(self, sale_id: int, session: Session) -> Any:
        return answer_lost(session, sale_id, now=self.clock.now(), first_check=self.first_check)

    def _transferred(self, sale_id: int, result: BalanceTransferResult, session: Session) -> None:
        record_transferred(session, sale_id, result, now=self.clock.now(), notifier=self.notifier)

    def settle(self, session: Session, payload: dict[str, Any]) -> None:
        """At the settlement time, the payout becomes available."""
        settle(session, int(payload["sale_id"]), now=self.clock.now(), notifier=self.notifier)

    def forget_passwords(self, session: Session, _payload: dict[str, Any]) -> None:
        forget_unused_passwords(session, now=self.clock.now())


def register_balance_tasks(registry: TaskRegistry, tasks: BalanceTasks) -> None:
    registry.task_with_own_transactions(TRANSFER_JOB)(tasks.transfer)
    registry.task(SETTLE_JOB)(tasks.settle)
    registry.every(FORGET_PASSWORDS_JOB, FORGET_PASSWORDS_EVERY, tasks.forget_passwords)
