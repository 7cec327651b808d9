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
            notices = [
                notice
                for notice in session.scalars(
                    select(Notice).where(Notice.id.in_(notice_ids)).order_by(Notice.id)
                )
                if notice.owner_ref.startswith("seller:")
            ]
            seller_ids = {int(n.owner_ref.removeprefix("seller:")) for n in notices}
            rows = session.execute(select(Seller.id, Seller.phone).where(Seller.id.in_(seller_ids)))
            phones: dict[int, str] = {row[0]: row[1] for row in rows}
            return [
                (phones[seller_id], f"{SMS_PREFIX}{notice.title}：{notice.body}")
                for notice in notices
                if (seller_id := int(notice.owner_ref.removeprefix("seller:"))) in phones
            ]

        # The send is the adapter's own unit of work; a crash after sending resends the batch
        # at most once more (a duplicate text, never a lost one).
        container.sms.send_many(container.db.run(load))
