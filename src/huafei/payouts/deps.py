"""Who is calling: the ONE place payout, wallet and notice routes learn the caller.

Temporary: until seller sessions and staff roles exist, the caller names itself in headers —
``X-Owner-Ref`` (``seller:42``, ``enterprise:7``, ``partner:3``, ``distributor:5``), the
percent-encoded ``X-Verified-Real-Name`` the identity domain will supply from the owner's KYC,
and ``X-Staff-Id`` for finance routes. Swapping these functions for the real session and
permission checks is the whole integration; no route reads the headers itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, cast
from urllib.parse import unquote

from fastapi import Depends, Header, Request

from huafei.container import Container
from huafei.core.errors import HuafeiError

OWNER_HEADER = "X-Owner-Ref"
REAL_NAME_HEADER = "X-Verified-Real-Name"
STAFF_HEADER = "X-Staff-Id"
_OWNER_REF = re.compile(r"^(seller|enterprise|partner|distributor):[0-9A-Za-z_-]{1,40}$")


class NotAuthenticated(HuafeiError):
    code = "not_authenticated"
    status = 401
    title = "Sign in first"


@dataclass(frozen=True, slots=True)
class Owner:
    """A wallet owner and, when verified (L2), the real name on their ID."""

    ref: str
    verified_real_name: str | None


def container_of(request: Request) -> Container:
    return cast("Container", request.app.state.container)


def current_owner(request: Request) -> Owner:
    ref = request.headers.get(OWNER_HEADER, "")
    if not _OWNER_REF.match(ref):
        raise NotAuthenticated("a wallet owner's session is required")
    name = unquote(request.headers.get(REAL_NAME_HEADER, "")).strip()
    return Owner(ref=ref, verified_real_name=name or None)


def current_staff(request: Request) -> int:
    value = request.headers.get(STAFF_HEADER, "")
    if not value.isdigit() or not 0 < int(value) < 2**31:
        raise NotAuthenticated("a staff session is required")
    return int(value)


CurrentOwner = Annotated[Owner, Depends(current_owner)]
CurrentStaff = Annotated[int, Depends(current_staff)]
IdempotencyKeyHeader = Annotated[str | None, Header(alias="Idempotency-Key")]
