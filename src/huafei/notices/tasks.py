"""Sending the SMS copies of notices through the SMS adapter, after the notices committed.

A notice that wants an SMS is due (``sms_due_at``) from its own commit; workers take what is due
(``FOR UPDATE SKIP LOCKED``), push it to its retry time in that same unit of work, send the batch
through the adapter, then mark it sent. A crash after sending and before marking resends the
batch once more at its retry time (a duplicate text, never a lost one); after
``SMS_MAX_ATTEMPTS`` tries a copy is given up (the in-app notice stays).

``NoticeTasks`` takes the database, the clock and the SMS adapter; the composition root builds it
and ``register_notice_tasks`` puts its handlers in the worker's registry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from huafei.core.clock import Clock
from huafei.core.db import Database
from huafei.identity.models import Seller
from huafei.jobs.service import backoff
from huafei.jobs.worker import TaskRegistry
from huafei.notices.models import Notice
from huafei.notices.service import SMS_JOB, SMS_MAX_ATTEMPTS
from huafei.sms.sender import SmsSender

log = logging.getLogger(__name__)

SMS_PREFIX = "【话费回收】"
SMS_SOURCE = "notices.sms_due"


def messages_for(session: Session, notices: list[Notice]) -> list[tuple[str, str]]:
    """``(phone, text)`` for each notice of a seller who still has an account."""
    seller_ids = {
        int(n.owner_ref.removeprefix("seller:"))
        for n in notices
        if n.owner_ref.startswith("seller:")
    }
    if not seller_ids:
        return []
    rows = session.execute(select(Seller.id, Seller.phone).where(Seller.id.in_(seller_ids)))
    phones: dict[int, str] = {row[0]: row[1] for row in rows}
    return [
        (phones[seller_id], f"{SMS_PREFIX}{notice.title}：{notice.body}")
        for notice in notices
        if notice.owner_ref.startswith("seller:")
        and (seller_id := int(notice.owner_ref.removeprefix("seller:"))) in phones
    ]


def take_due(
    session: Session, *, now: datetime, limit: int
) -> tuple[list[int], list[tuple[str, str]]]:
    """The due SMS copies, locked, each pushed to its retry time (or given up after the last
    try); returns their notice ids and the messages to send."""
    notices = list(
        session.scalars(
            select(Notice)
            .where(Notice.sms_due_at.is_not(None), Notice.sms_due_at <= now)
            .order_by(Notice.sms_due_at, Notice.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for notice in notices:
        notice.sms_attempts += 1
        if notice.sms_attempts >= SMS_MAX_ATTEMPTS:
            notice.sms_due_at = None  # this is the last try
        else:
            notice.sms_due_at = now + backoff(notice.sms_attempts)
    return [n.id for n in notices], messages_for(session, notices)


@dataclass(frozen=True)
class NoticeTasks:
    db: Database
    clock: Clock
    sms: SmsSender

    def send_due(self, limit: int) -> int:
        """Send the SMS copies that are due (a worker source)."""
        ids, messages = self.db.run(lambda s: take_due(s, now=self.clock.now(), limit=limit))
        if not ids:
            return 0
        try:
            self.sms.send_many(messages)
        except Exception:
            log.exception("sending SMS copies failed; retried at their next time")
            return len(ids)
        sent_at = self.clock.now()
        self.db.run(
            lambda s: s.execute(
                update(Notice)
                .where(Notice.id.in_(ids))
                .values(sms_due_at=None, sms_sent_at=sent_at)
            )
        )
        return len(ids)

    def send_sms(self, payloads: list[dict[str, Any]]) -> None:
        # Jobs written by an earlier version: send those notices' copies the same way.
        notice_ids = [int(p["notice_id"]) for p in payloads]

        def load(session: Session) -> list[tuple[str, str]]:
            notices = list(
                session.scalars(select(Notice).where(Notice.id.in_(notice_ids)).order_by(Notice.id))
            )
            return messages_for(session, notices)

        self.sms.send_many(self.db.run(load))


def register_notice_tasks(registry: TaskRegistry, tasks: NoticeTasks) -> None:
    registry.source(SMS_SOURCE)(tasks.send_due)
    registry.batch_task(SMS_JOB)(tasks.send_sms)
