"""The seller's notices page: the inbox, and which notices also come by text message."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from huafei.core.types import Id
from huafei.notices.service import (
    NoticeKind,
    list_notices,
    mark_read,
    preferences,
    set_preferences,
)
from huafei.portal.pages import Form, Me, PageCtx, PageRoute, flash, redirect, render

router = APIRouter(route_class=PageRoute, include_in_schema=False, tags=["portal"])


# -- notices ------------------------------------------------------------------------------------
#: The notice kinds a seller receives (and so may have texted); the others go to staff.
SELLER_NOTICE_KINDS: tuple[NoticeKind, ...] = tuple(
    kind for kind in NoticeKind if kind not in (NoticeKind.ESCROW_ALERT, NoticeKind.RECONCILIATION)
)


@router.get("/notices")
def notices_page(ctx: PageCtx, me: Me) -> Response:

    def load(session: Session) -> tuple[Any, dict[str, bool]]:
        return list_notices(session, me.owner_ref, limit=100), preferences(session, me.owner_ref)

    rows, chosen = ctx.run(load)
    sms = [(kind.value, chosen[kind.value]) for kind in SELLER_NOTICE_KINDS]
    request = ctx.request
    return render(
        request,
        "notices.html",
        me=me,
        section="notices",
        notices=rows,
        sms=sms,
        flash=flash(request),
    )


@router.post("/notices/preferences")
def save_notice_preferences(ctx: PageCtx, me: Me, form: Form) -> Response:
    """Which notices also come by text message (a ticked box is sent as ``on``)."""
    chosen: dict[NoticeKind, bool] = {
        kind: form.get(f"sms_{kind.value}") == "on" for kind in SELLER_NOTICE_KINDS
    }
    ctx.run(lambda s: set_preferences(s, me.owner_ref, chosen))
    return redirect("/notices?done=sms_saved#sms")


@router.post("/notices/{notice_id}/read")
def read_notice(notice_id: Id, ctx: PageCtx, me: Me) -> Response:
    ctx.run(lambda s: mark_read(s, me.owner_ref, notice_id))
    return redirect(f"/notices#notice-{notice_id}")


@router.post("/notices/read-all")
def read_all_notices(ctx: PageCtx, me: Me) -> Response:

    def work(session: Session) -> None:
        for notice in list_notices(session, me.owner_ref, unread_only=True, limit=500):
            mark_read(session, me.owner_ref, notice.id)

    ctx.run(work)
    return redirect("/notices?done=notices_read")
