"""HTTP routes of the notices inbox."""

from __future__ import annotations

from fastapi import APIRouter, Request

from huafei.core.errors import NotFound
from huafei.notices.service import list_notices, mark_read, unread_count
from huafei.payouts.deps import CurrentOwner, container_of
from huafei.payouts.schemas import NoticeOut

router = APIRouter(prefix="/api/v1/notices", tags=["notices"])


@router.get("", summary="The caller's notices, newest first")
def notices(
    request: Request,
    owner: CurrentOwner,
    unread_only: bool = False,
    limit: int = 50,
) -> list[NoticeOut]:
    container = container_of(request)
    return container.db.run(
        lambda s: [
            NoticeOut(**{k: getattr(n, k) for k in n.__slots__})
            for n in list_notices(s, owner.ref, unread_only=unread_only, limit=limit)
        ]
    )


@router.get("/unread-count", summary="How many notices are unread")
def unread(request: Request, owner: CurrentOwner) -> dict[str, int]:
    container = container_of(request)
    return {"unread": container.db.run(lambda s: unread_count(s, owner.ref))}


@router.post("/{notice_id}/read", status_code=204, summary="Mark a notice read")
def read(notice_id: int, request: Request, owner: CurrentOwner) -> None:
    container = container_of(request)
    if not container.db.run(lambda s: mark_read(s, owner.ref, notice_id)):
        raise NotFound(f"notice {notice_id} not found")
