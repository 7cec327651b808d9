"""The ledger's background work: expiring pending transfers whose timeout has passed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from huafei.core.clock import Clock
from huafei.jobs.worker import TaskRegistry
from huafei.ledger.service import expire_pending_transfers

EXPIRE_EVERY = timedelta(seconds=10)


def register(registry: TaskRegistry, clock: Clock) -> None:
    def expire(session: Session, _payload: dict[str, Any]) -> None:
        # Expire everything due, in chunks; the deterministic expiry ids make overlap harmless.
        while expire_pending_transfers(session, now=clock.now(), limit=500) == 500:
            pass

    registry.every("ledger.expire_pending", EXPIRE_EVERY, expire)
