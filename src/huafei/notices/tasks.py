"""Sending a notice by SMS, through the SMS adapter, after the notice committed."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from huafei.container import Container
from huafei.identity.models import Seller
from huafei.jobs.worker import TaskRegistry
from huafei.notices.models import Notice
from huafei.notices.service import SMS_JOB

SMS_PREFIX = "【话费回收】"


def register(registry: TaskRegistry, container: Container) -> None:
    @registry.task_with_own_transactions(SMS_JOB)
    def send_sms(payload: dict[str, Any]) -> None:
        def load(session: Session) -> tuple[str, str] | None:
            notice = session.get(Notice, int(payload["notice_id"]))
            if notice is None or not notice.owner_ref.startswith("seller:"):
                return None
            seller = session.get(Seller, int(notice.owner_ref.removeprefix("seller:")))
            if seller is None:
                return None
            return seller.phone, f"{SMS_PREFIX}{notice.title}：{notice.body}"

        message = container.db.run(load)
        if message is not None:
            # The sender's own unit of work; a crash after sending resends at most once more.
            container.sms.send(*message)
