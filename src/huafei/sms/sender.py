"""The SMS provider contract and the sandbox that stands in for it.

A real provider (Aliyun SMS, Tencent Cloud SMS …) implements ``SmsSender``; the sandbox writes
each message to the ``sms_outbox`` table in its own transaction, so a message sent by the web
process shows in ``GET /sandbox/sms`` of any other process, and logs it in development so
``make run`` shows sign-in codes on the console. Callers send after their own unit of work has
committed: a rolled-back request never texts anyone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from huafei.core.clock import Clock
from huafei.core.db import Database, bulk_insert
from huafei.sms.models import SmsOutboxMessage

_OUTBOX: Table = SmsOutboxMessage.__table__  # type: ignore[assignment]

log = logging.getLogger(__name__)


class SmsSender(Protocol):
    def send(self, phone: str, text: str) -> None:
        """Send ``text`` to the 11-digit mainland mobile number ``phone``."""
        ...

    def send_many(self, messages: Sequence[tuple[str, str]]) -> None:
        """Send each ``(phone, text)``; one request for all where the provider has a batch API
        (as the usual providers do)."""
        ...


def mask_phone(phone: str) -> str:
    """``138****8000``: what may appear in logs and on screens."""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


class SandboxSmsSender:
    """Keeps every message in the ``sms_outbox`` table; nothing leaves the machine."""

    def __init__(self, db: Database, clock: Clock, *, log_messages: bool = False) -> None:
        self.db = db
        self.clock = clock
        self.log_messages = log_messages

    def send(self, phone: str, text: str) -> None:
        self.send_many([(phone, text)])

    def send_many(self, messages: Sequence[tuple[str, str]]) -> None:
        if not messages:
            return
        sent_at = self.clock.now()

        def work(session: Session) -> None:
            bulk_insert(
                session,
                _OUTBOX,
                [{"phone": phone, "text": text, "sent_at": sent_at} for phone, text in messages],
            )

        self.db.run(work)
        if self.log_messages:
            # Development only (HUAFEI_ENV=development): the code is what a developer needs to
            # sign in; the number stays masked like everywhere else in the logs.
            for phone, text in messages:
                log.info("sandbox SMS to %s: %s", mask_phone(phone), text)


def read_outbox(
    session: Session, *, phone: str | None = None, limit: int = 50
) -> list[SmsOutboxMessage]:
    """The newest messages first, optionally to one number."""
    query = select(SmsOutboxMessage).order_by(SmsOutboxMessage.id.desc()).limit(limit)
    if phone is not None:
        query = query.where(SmsOutboxMessage.phone == phone)
    return list(session.scalars(query))
