"""HTTP: where carrier channels deliver their signed results."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from huafei.carriers.deps import Channels, Inbox
from huafei.carriers.errors import CarrierNotConfigured, MalformedCallback
from huafei.carriers.gateway import Carrier
from huafei.web.context import AnyContext

router = APIRouter(tags=["carriers"])

MAX_CALLBACK_BYTES = 64 * 1024


@router.post(
    "/callbacks/carriers/{carrier}",
    summary="A carrier channel's signed consumption result",
    response_class=PlainTextResponse,
    responses={401: {"description": "bad signature or timestamp outside ±300 s"}},
)
async def carrier_callback(
    carrier: Carrier, request: Request, ctx: AnyContext, channels: Channels, inbox: Inbox
) -> PlainTextResponse:
    """Verify, record once in the inbox, answer ``SUCCESS`` (also for a redelivery)."""
    gateway = channels.get(carrier)
    if gateway is None:
        raise CarrierNotConfigured(carrier=carrier.value)
    body = await request.body()
    if len(body) > MAX_CALLBACK_BYTES:
        raise MalformedCallback("the body is too large")
    result = gateway.parse_callback(dict(request.headers), body)
    # Committed (with whatever other callbacks arrived meanwhile) before the channel is answered.
    await asyncio.wrap_future(inbox.record(carrier, result, body=body, now=ctx.now))
    return PlainTextResponse("SUCCESS")
