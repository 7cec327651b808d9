"""Top-ups handed to the carriers: ``TopUps``, the one object the routes, the portal and the
check job use to send a top-up and to resolve one whose answer was lost.

The carrier is called between units of work, never inside one (no transaction, and on SQLite no
write lock, waits on a carrier): the attempt is counted and committed first, the carrier asked,
its answer recorded in a second unit of work (``service.topups``). A carrier that does not
answer, or answers an error, leaves the top-up ``pending``; the check job then asks the carrier
which top-up it made under the id before sending it again, and keeps asking, with a growing
pause, while the carrier cannot say.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from huafei.carriers.gateway import (
    Carrier,
    CarrierGateway,
    ChannelRefused,
    GatewayError,
    TopUpResult,
)
from huafei.core.clock import Clock
from huafei.core.crypto import Keyring
from huafei.core.db import Database
from huafei.core.idempotency import IdempotentResponse
from huafei.credit.service import topups
from huafei.credit.service.pricing import TopUpTerms, default_terms
from huafei.jobs.service import RetryLater
from huafei.notices.service import Notifier

log = logging.getLogger(__name__)

#: A pending top-up is checked this long after it was asked for.
CHECK_AFTER = timedelta(seconds=30)
#: The longest pause between two checks of a top-up the carrier cannot account for.
MAX_CHECK_PAUSE = timedelta(minutes=10)


@dataclass
class TopUps:
    db: Database
    clock: Clock
    keyring: Keyring
    channels: Mapping[Carrier, CarrierGateway]
    notifier: Notifier
    terms: TopUpTerms = field(default_factory=default_terms)
    check_after: timedelta = CHECK_AFTER

    def request_work(self, order: topups.TopUpOrder) -> Callable[[Session], tuple[int, Any]]:
        """The unit of work of a top-up request (run once per idempotency key by the caller):
        the price held and the top-up recorded ``pending``, answered ``(201, {"id", …})``."""

        def work(session: Session) -> tuple[int, Any]:
            now = self.clock.now()
            topup, _made = topups.request_topup(
                session, order, terms=self.terms, keyring=self.keyring,
                check_at=now + self.check_after, now=now,
            )  # fmt: skip
            return 201, {"id": topup.id, "topup_id": topup.topup_id}

        return work

    def after_request(self, outcome: IdempotentResponse) -> int | None:
        """After a request's unit of work has committed: the top-up's id (None when it was
        refused); a top-up made by this request goes to its carrier now (a replay's went
        already, or is the check job's)."""
        if outcome.status_code >= 400:
            return None
        topup_id = int(outcome.body["id"])
        if not outcome.replayed:
            self.send(topup_id)
        return topup_id

    def send(self, topup_id: int) -> bool:
        """Count an attempt and hand the top-up to its carrier; True when the carrier's answer
        was recorded (topped up or refused), False when it is still pending."""
        plan = self.db.run(
            lambda s: topups.begin_send(
                s, topup_id=topup_id, keyring=self.keyring, now=self.clock.now()
            )
        )
        if plan is None:
            return True
        gateway = self.channels[plan.carrier]
        try:
            result = gateway.direct_topup(plan.request)
        except ChannelRefused as refusal:
            self._refuse(topup_id, refusal)
            return True
        except GatewayError as exc:
            log.warning(
                "top-up answer lost; the check job will ask the carrier",
                extra={"topup_id": topup_id, "attempt": plan.attempt, "error": exc.code},
            )
            return False
        self._record(topup_id, result)
        return True

    def check(self, topup_id: int) -> RetryLater | None:
        """The check job: a top-up still pending is resolved by asking the carrier which top-up
        it made under the id — made: spent; none: sent again under the same id (the carrier is
        idempotent on it). While the carrier cannot say, ask again later."""
        plan = self.db.run(
            lambda s: topups.pending_plan(s, topup_id=topup_id, keyring=self.keyring)
        )
        if plan is None:
            return None
        try:
            made = self.channels[plan.carrier].query_topup(plan.request.topup_id)
        except GatewayError:
            return self._later(plan.attempt)
        if made is not None and (made.phone, made.amount_fen) != (
            plan.request.phone,
            plan.request.amount_fen,
        ):
            # The carrier names another top-up under our id: nothing is decided on that; the
            # price stays held and the top-up pending until an operator has looked.
            log.error(
                "carrier answered a top-up query with another top-up", extra={"topup_id": topup_id}
            )
            return self._later(plan.attempt)
        if made is not None:
            self._record(topup_id, made)
            return None
        return None if self.send(topup_id) else self._later(plan.attempt + 1)

    def _record(self, topup_id: int, result: TopUpResult) -> None:
        self.db.run(
            lambda s: topups.record_topped_up(
                s, topup_id=topup_id, result=result, notifier=self.notifier, now=self.clock.now()
            )
        )

    def _refuse(self, topup_id: int, refusal: ChannelRefused) -> None:
        self.db.run(
            lambda s: topups.record_refused(
                s, topup_id=topup_id, refusal=refusal, notifier=self.notifier, now=self.clock.now()
            )
        )

    def _later(self, attempt: int) -> RetryLater:
        pause = min(MAX_CHECK_PAUSE, self.check_after * 2 ** min(attempt, 10))
        return RetryLater(self.clock.now() + pause)
