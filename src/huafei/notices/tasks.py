"""Sending notices by SMS, through the SMS adapter, after the notices committed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from huafei.container import Container
from huafei.identity.models import Seller
from huafei.jobs.worker import TaskRegistry
from huafei.notices.models import Notice
from huafei.notices.service import SMS_JOB

SMS_PREFIX = "【话费回收】"


def register(registry: TaskRegistry, container: Container) -> None:
    @registry.batch_task(SMS_JOB)
    def send_sms(payloads: list[dict[str, Any]]) -> None:
        notice_ids = [int(p["notice_id"]) for p in payloads]

        def load(session: Session) -> list[tuple[str, str]]:
            messages = []
            for notice in session.scalars(select(Notice).where(Notice.id.in_(notice_ids))):
                if not notice.owner_ref.startswith("seller:"):
                    continue
                seller = session.get(Seller, int(notice.owner_ref.removeprefix("seller:")))
                if seller is not None:
                    messages.append((seller.phone, f"{SMS_PREFIX}{notice.title}：{notice.body}"))
            return messages

        # Each send is the adapter's own unit of work; a crash after sending resends at most
        # once more (a duplicate text, never a lost one).
        for phone, text in container.db.run(load):
            container.sms.send(phone, text)
