"""Request body limits: a body larger than the limit is refused with a 413 problem before any
route reads it.

The limit is ``settings.max_body_bytes`` (1 MiB by default); the batch routes — a pasted batch of
cards, the portal's sell form and its live check, a rail's daily statement — take up to
``settings.max_batch_body_bytes``. A request that declares its length is answered from the
``Content-Length`` header alone; a chunked one is read here and refused as soon as it passes the
limit, so no route ever sees more than the limit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from huafei.core.settings import Settings
from huafei.web.middleware import HttpMiddleware
from huafei.web.problems import PROBLEM_JSON

#: Paths whose bodies may be larger: batches of cards and statement files.
BATCH_PATHS = (
    "/api/v1/orders/batch",
    "/api/v1/orders/validate",
    "/api/v1/finance/reconciliation/",
    "/sell",
)


def limit_for(path: str, *, default: int, batch: int) -> int:
    if path.startswith(BATCH_PATHS):
        return batch
    return default


@dataclass(eq=False, kw_only=True)
class BodyLimitMiddleware(HttpMiddleware):
    """Plain ASGI (no extra task per request): a check of one header on the common path."""

    default: int
    batch: int

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = limit_for(scope.get("path", ""), default=self.default, batch=self.batch)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, send, limit)
            return
        if declared is not None:
            await self.app(scope, receive, send)
            return
        # No Content-Length (a chunked body): read it here, up to the limit, then hand it on.
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; the app will see it disconnect
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                await _refuse(scope, send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    problem: dict[str, Any] = {
        "type": "/problems/body_too_large",
        "title": "The request body is too large",
        "status": 413,
        "detail": f"the body of this request may hold at most {limit} bytes",
        "code": "body_too_large",
        "instance": scope.get("path", ""),
        "limit_bytes": limit,
    }
    body = json.dumps(problem).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def install_body_limits(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(
        BodyLimitMiddleware,
        default=settings.max_body_bytes,
        batch=settings.max_batch_body_bytes,
    )
