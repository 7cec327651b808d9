"""HTTP routes of the notices inbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session

from huafei.core.errors import NotFound
from huafei.core.types import Id
from huafei.notices.service import (
    NoticeKind,
    list_notices,
    mark_read,
    preferences,
    set_preferences,
    unread_count,
)
from huafei.payouts.deps import CurrentOwner, container_of
from huafei.payouts.schemas import NoticeOut

router = APIRouter(prefix="/api/v1/notices", tags=["notices"])


@router.get("", summary="The caller's notices, newest first")
def notices(
    request: Request,
    owner: CurrentOwner,
    unread_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[NoticeOut]:
    container = container_of(request)
    return container.db.run(
        lambda s: [
            NoticeOut(**{k: getattr(n, k) for k in n.__slots__})
            for n in list_notices(s, owner.ref, unread_only=unread_only, limit=limit)
        ]
    )


@router.get("/preferences", summary="Which notices also come by SMS")
def get_preferences(request: Request, owner: CurrentOwner) -> dict[str, bool]:
    return container_of(request).db.run(lambda s: preferences(s, owner.ref))


@router.put("/preferences", summary="Choose which notices also come by SMS")
def put_preferences(
    body: dict[NoticeKind, bool], request: Request, owner: CurrentOwner
) -> dict[str, bool]:
    container = container_of(request)

    def work(session: Session) -> dict[str, bool]:
        set_preferences(session, owner.ref, body)
        return preferences(session, owner.ref)

    return container.db.run(work)


@router.get("/unread-count", summary="How many notices are unread")
def unread(request: Request, owner: CurrentOwner) -> dict[str, int]:
    container = container_of(request)
    return {"unread": container.db.run(lambda s: unread_count(s, owner.ref))}


@router.post("/{notice_id}/read", status_code=204, summary="Mark a notice read")
def read(notice_id: Id, request: Request, owner: CurrentOwner) -> None:
    container = container_of(request)
    if not container.db.run(lambda s: mark_read(s, owner.ref, notice_id)):
        raise NotFound(f"notice {notice_id} not found")
