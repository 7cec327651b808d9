"""``GET /sandbox/sms``: the sandbox outbox, mounted only when sandboxes are on."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session

from huafei.core.types import Text
from huafei.sms.sender import read_outbox
from huafei.web.context import AnyContext

sandbox_router = APIRouter(prefix="/sandbox", tags=["sandboxes"])


class OutboxMessage(BaseModel):
    id: int
    phone: str
    text: str
    sent_at: datetime


@sandbox_router.get(
    "/sms", summary="Messages the sandbox SMS provider sent, newest first (sandbox only)"
)
def sandbox_sms(
    ctx: AnyContext,
    phone: Annotated[Text | None, Query(max_length=11)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[OutboxMessage]:
    def work(session: Session) -> list[OutboxMessage]:
        return [
            OutboxMessage(id=m.id, phone=m.phone, text=m.text, sent_at=m.sent_at)
            for m in read_outbox(session, phone=phone, limit=limit)
        ]

    return ctx.run(work)
