"""Background work of consumption credit (built and registered by ``composition.runtime``):
the check of a top-up whose carrier answer was lost (``credit.sending.TopUps.check``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from huafei.credit.sending import TopUps
from huafei.credit.service.topups import CHECK_JOB
from huafei.jobs.service import RetryLater
from huafei.jobs.worker import TaskRegistry


@dataclass(frozen=True)
class CreditTasks:
    topups: TopUps

    def check_topup(self, payload: dict[str, Any]) -> RetryLater | None:
        """Ask the carrier about a top-up still pending; the carrier is called between units
        of work of its own, not in the job's."""
        return self.topups.check(int(payload["topup_id"]))


def register_credit_tasks(registry: TaskRegistry, tasks: CreditTasks) -> None:
    registry.task_with_own_transactions(CHECK_JOB)(tasks.check_topup)
