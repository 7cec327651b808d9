"""HTTP routes of the notices inbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from huafei.core.errors import NotFound
from huafei.core.types import Id
from huafei.identity.deps import SellerCtx
from huafei.notices.service import (
    NoticeKind,
    NoticeView,
    list_notices,
    mark_read,
    preferences,
    set_preferences,
    unread_count,
)

router = APIRouter(prefix="/api/v1/notices", tags=["notices"])


@router.get("", summary="The caller's notices, newest first")
def notices(
    ctx: SellerCtx,
    unread_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[NoticeView]:
    return ctx.run(lambda s: list_notices(s, ctx.owner_ref, unread_only=unread_only, limit=limit))


@router.get("/preferences", summary="Which notices also come by SMS")
def get_preferences(ctx: SellerCtx) -> dict[str, bool]:
    return ctx.run(lambda s: preferences(s, ctx.owner_ref))


@router.put("/preferences", summary="Choose which notices also come by SMS")
def put_preferences(body: dict[NoticeKind, bool], ctx: SellerCtx) -> dict[str, bool]:
    def work(session: Session) -> dict[str, bool]:
        set_preferences(session, ctx.owner_ref, body)
        return preferences(session, ctx.owner_ref)

    return ctx.run(work)


@router.get("/unread-count", summary="How many notices are unread")
def unread(ctx: SellerCtx) -> dict[str, int]:
    return {"unread": ctx.run(lambda s: unread_count(s, ctx.owner_ref))}


@router.post("/{notice_id}/read", status_code=204, summary="Mark a notice read")
def read(notice_id: Id, ctx: SellerCtx) -> None:
    if not ctx.run(lambda s: mark_read(s, ctx.owner_ref, notice_id)):
        raise NotFound(f"notice {notice_id} not found")
