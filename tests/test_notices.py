"""SMS copies of notices: sent once the notice committed, retried with backoff, given up after
the last try; the in-app notice is there either way."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from factories import make_container, make_seller
from huafei.jobs.worker import TaskRegistry, Worker
from huafei.notices import tasks
from huafei.notices.models import Notice
from huafei.notices.service import SMS_MAX_ATTEMPTS, InboxNotifier, NoticeKind
from huafei.sms.sender import read_outbox


class FlakyProvider:
    """The SMS adapter with an outage: the first ``failures`` sends fail."""

    def __init__(self, real, failures: int) -> None:
        self.real, self.failures, self.calls = real, failures, 0

    def send(self, phone: str, text: str) -> None:
        self.send_many([(phone, text)])

    def send_many(self, messages) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("the SMS provider is down")
        self.real.send_many(messages)


def setup(db, clock, failures: int):
    container = make_container(db, clock)
    provider = FlakyProvider(container.sms, failures)
    container = dataclasses.replace(container, sms=provider)
    registry = TaskRegistry()
    tasks.register_notice_tasks(
        registry, tasks.NoticeTasks(container.db, container.clock, container.sms)
    )
    seller = make_seller(db, clock)

    def notify(session) -> None:
        InboxNotifier().notify(
            session,
            owner_ref=f"seller:{seller.id}",
            kind=NoticeKind.FUNDS_ARRIVED,  # texted by default
            title="到账通知",
            body="订单 1 已结算。",
            now=clock.now(),
        )

    return Worker(db, clock, registry, name="w"), provider, seller, notify


def texts(db, seller) -> list[str]:
    return db.run(lambda s: [m.text for m in read_outbox(s, phone=seller.phone)])


def test_a_failed_text_is_retried_with_backoff_and_sent_once(db, clock) -> None:
    worker, provider, seller, notify = setup(db, clock, failures=2)
    db.run(notify)
    worker.run_until_idle()
    assert texts(db, seller) == []  # the provider is down
    clock.advance(seconds=1)
    worker.run_until_idle()
    assert texts(db, seller) == []  # down again; the next try waits longer
    clock.advance(seconds=1)
    worker.run_until_idle()
    assert texts(db, seller) == []  # not due yet (2 s after the second try)
    clock.advance(seconds=1)
    worker.run_until_idle()
    assert texts(db, seller) == ["【话费回收】到账通知：订单 1 已结算。"]
    clock.advance(minutes=30)
    worker.run_until_idle()
    assert len(texts(db, seller)) == 1  # sent once
    assert provider.calls == 3
    notice = db.run(lambda s: s.scalars(select(Notice)).one())
    assert (notice.sms_attempts, notice.sms_due_at) == (3, None)
    assert notice.sms_sent_at is not None


def test_a_text_is_given_up_after_the_last_try_and_the_notice_stays(db, clock) -> None:
    worker, provider, seller, notify = setup(db, clock, failures=100)
    db.run(notify)
    for _ in range(SMS_MAX_ATTEMPTS + 3):
        worker.run_until_idle()
        clock.advance(minutes=15)
    assert provider.calls == SMS_MAX_ATTEMPTS
    assert texts(db, seller) == []
    notice = db.run(lambda s: s.scalars(select(Notice)).one())
    assert (notice.sms_due_at, notice.sms_sent_at) == (None, None)
    assert notice.title == "到账通知"  # the in-app notice is there


def test_nothing_is_texted_for_a_rolled_back_notice(db, clock) -> None:
    worker, provider, seller, notify = setup(db, clock, failures=0)

    class Abort(Exception):
        pass

    def notify_then_fail(session) -> None:
        notify(session)
        raise Abort

    with pytest.raises(Abort):
        db.run(notify_then_fail)
    worker.run_until_idle()
    assert provider.calls == 0
    assert texts(db, seller) == []
