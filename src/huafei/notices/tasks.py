"""Sending the SMS copies of notices through the SMS adapter, after the notices committed.

A notice that wants an SMS is due (``sms_due_at``) from its own commit; workers take what is due
(``FOR UPDATE SKIP LOCKED``), push it to its retry time in that same unit of work, send the batch
through the adapter, then mark it sent. A crash after sending and before marking resends the
batch once more at its retry time (a duplicate text, never a lost one); after
``SMS_MAX_ATTEMPTS`` tries a copy is given up (the in-app notice stays).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from huafei.container import Container
from huafei.identity.models import Seller
from huafei.jobs.service import backoff
from huafei.jobs.worker import TaskRegistry
from huafei.notices.models import Notice
from huafei.notices.service import SMS_JOB, SMS_MAX_ATTEMPTS

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


def register(registry: TaskRegistry, container: Container) -> None:
    db = container.db
    clock = container.clock

    @registry.source(SMS_SOURCE)
    def send_due(limit: int) -> int:
        ids, messages = db.run(lambda s: take_due(s, now=clock.now(), limit=limit))
        if not ids:
            return 0
        try:
            container.sms.send_many(messages)
        except Exception:
            log.exception("sending SMS copies failed; retried at their next time")
            return len(ids)
        sent_at = clock.now()
        db.run(
            lambda s: s.execute(
                update(Notice)
                .where(Notice.id.in_(ids))
                .values(sms_due_at=None, sms_sent_at=sent_at)
            )
        )
        return len(ids)

    @registry.batch_task(SMS_JOB)
    def send_sms(payloads: list[dict[str, Any]]) -> None:
        # Jobs written by an earlier version: send those notices' copies the same way.
        notice_ids = [int(p["notice_id"]) for p in payloads]

        def load(session: Session) -> list[tuple[str, str]]:
            notices = list(
                session.scalars(select(Notice).where(Notice.id.in_(notice_ids)).order_by(Notice.id))
            )
            return messages_for(session, notices)

        container.sms.send_many(db.run(load))
