"""Where the payout rails deliver their signed results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from huafei.core.types import Text
from huafei.payouts.deps import PayoutsDep
from huafei.payouts.errors import UnknownRail
from huafei.payouts.models import RailName
from huafei.payouts.service import settle
from huafei.web.context import AnyContext

router = APIRouter(tags=["callbacks"])
RailPath = Annotated[
    Text, Path(max_length=16, description="bank, alipay, wechat, ecny or carrier_wallet")
]


def rail_named(name: str) -> RailName:
    try:
        return RailName(name)
    except ValueError:
        raise UnknownRail(f"no payout rail {name!r}", rail=name) from None


@router.post(
    "/callbacks/rails/{rail}",
    response_class=PlainTextResponse,
    summary="Signed payout results from a rail; answers SUCCESS once recorded",
    tags=["callbacks"],
)
async def rail_callback(
    rail: RailPath, request: Request, ctx: AnyContext, payouts: PayoutsDep
) -> PlainTextResponse:
    name = rail_named(rail)
    body = await request.body()
    result = payouts.rail(name).parse_callback(dict(request.headers), body)
    now = ctx.now
    await run_in_threadpool(
        ctx.run,
        lambda s: settle.receive_notification(
            s, payouts=payouts, rail=name, result=result, body=body, now=now
        ),
    )
    return PlainTextResponse("SUCCESS")
