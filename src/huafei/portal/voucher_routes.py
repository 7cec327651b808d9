"""The public voucher verification page: anyone holding a voucher (the QR code on its PDF opens
this page with both filled in) enters its number and check code and sees its facts, masked as
printed, and whether the stored document still matches the SHA-256 it was issued with.

No sign-in; the lookups count against the address's limits (``vouchers.service.verify``), so
numbers cannot be enumerated. The facts are shown in Chinese, the language of the voucher.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from huafei.core.errors import HuafeiError
from huafei.portal.messages import describe_error
from huafei.portal.pages import MaybeMe, PageCtx, PageRoute, render
from huafei.portal.ui import gettext_for
from huafei.vouchers import deps as voucher_deps
from huafei.vouchers.issuing import VERIFY_PAGE_PATH
from huafei.vouchers.presentation import sections

router = APIRouter(route_class=PageRoute, include_in_schema=False, tags=["portal"])

#: longer than any number or code; what is longer is not looked up
MAX_INPUT = 32


@router.get(VERIFY_PAGE_PATH)
def verify_page(ctx: PageCtx, me: MaybeMe) -> Response:
    request = ctx.request
    number = request.query_params.get("number", "").strip()[:MAX_INPUT]
    code = request.query_params.get("code", "").strip()[:MAX_INPUT]
    values: dict[str, Any] = {"number": number, "code": code, "checked": None}
    status = 200
    if number and code:
        try:
            checked = voucher_deps.verify(ctx, number, code)
        except HuafeiError as error:
            values["error"] = describe_error(error, gettext_for(request))
            status = error.status
        else:
            document = checked.document
            values["checked"] = checked
            values["sections"] = sections(document) if document is not None else []
    return render(request, "voucher_verify.html", status=status, me=me, **values)
