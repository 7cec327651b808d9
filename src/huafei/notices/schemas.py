"""Response shapes of the notices inbox."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class NoticeOut(BaseModel):
    id: int
    kind: str
    title: str
    body: str
    ref: str | None
    read: bool
    created_at: datetime
