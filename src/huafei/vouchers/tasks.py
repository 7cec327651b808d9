"""The vouchers' background work: a worker source over ``voucher_requests`` (the table is the
queue, as the orders' queued rows are), each round issuing the vouchers of the due requests in
one unit of work."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from huafei.core.clock import Clock
from huafei.core.db import Database
from huafei.jobs.worker import TaskRegistry
from huafei.vouchers.issuing import Issuer, issue_due
from huafei.vouchers.schemas import FactsBuilder

ISSUE_SOURCE = "vouchers.issue"


@dataclass
class VoucherTasks:
    db: Database
    clock: Clock
    issuer: Issuer
    #: each subject's facts (``Subject.ORDER``: the orders domain's builder …)
    builders: Mapping[str, FactsBuilder]

    def issue(self, limit: int) -> int:
        """Issue the vouchers of up to ``limit`` due requests (a worker source)."""
        return self.db.run(
            lambda s: issue_due(
                s, builders=self.builders, issuer=self.issuer, now=self.clock.now(), limit=limit
            )
        )


def register_voucher_tasks(registry: TaskRegistry, tasks: VoucherTasks) -> None:
    registry.source(ISSUE_SOURCE)(tasks.issue)
