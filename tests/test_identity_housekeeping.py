"""The hourly purge of dead SMS codes, lapsed lockouts and long-ended sessions."""

from __future__ import annotations

from sqlalchemy import func, select

from factories import make_client, make_container, new_phone, sign_in_seller
from huafei.composition.runtime import build_registry
from huafei.identity.models import AuthSession, AuthThrottle, OperationLogEntry, SmsCode
from huafei.jobs.worker import Worker


def _count(db, model) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_the_worker_purges_what_no_longer_matters(db, clock) -> None:
    client = make_client(db, clock)
    phone = new_phone()
    sign_in_seller(client, phone)
    client.post("/api/v1/auth/sign-in/password", json={"phone": phone, "password": "wrong-pw1"})
    assert (_count(db, SmsCode), _count(db, AuthSession), _count(db, AuthThrottle)) == (1, 1, 1)
    log_entries = _count(db, OperationLogEntry)

    worker = Worker(db, clock, build_registry(make_container(db, clock)), name="w")
    worker.run_until_idle()
    assert (_count(db, SmsCode), _count(db, AuthSession), _count(db, AuthThrottle)) == (1, 1, 1)

    clock.advance(days=30 + 91)  # the token's absolute end, then 90 days
    worker.run_until_idle()
    assert (_count(db, SmsCode), _count(db, AuthSession), _count(db, AuthThrottle)) == (0, 0, 0)
    assert _count(db, OperationLogEntry) == log_entries  # the history stays
