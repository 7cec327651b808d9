"""The request middleware: request id, metrics, one log line per request, and the 500s.

Plain ASGI rather than ``BaseHTTPMiddleware``: no extra task and stream per request, which the
callback endpoint's throughput notices.
"""

from __future__ import annotations

import inspect
import logging
import re
import time
import uuid
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from huafei.core.logging import request_id_var
from huafei.core.metrics import Metrics

log = logging.getLogger("huafei.http")

#: a caller's ``X-Request-ID`` is kept when it is this plain; anything else gets a new id (it
#: goes into every log line of the request)
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            incoming: str = value.decode("latin-1")
            if _SANE_REQUEST_ID.fullmatch(incoming):
                return incoming
            break
    return uuid.uuid4().hex


@dataclass(eq=False)
class HttpMiddleware:
    """A plain ASGI middleware of HTTP requests (``http``); other scopes (lifespan) pass
    straight through to ``app``. Its settings are keyword-only fields of the subclass."""

    app: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


@dataclass(eq=False, kw_only=True)
class RequestContextMiddleware(HttpMiddleware):
    """Request id (``X-Request-ID``, taken from the caller when sane), metrics and one log line
    per request — the route's template, never the raw path or query string.

    An exception no handler took is answered here, inside the request's context, with the
    application's handler for ``Exception`` (a problem document, or a page for a browser): so
    the 500 carries ``X-Request-ID`` and its log line the request id. Starlette's own last
    resort, ``ServerErrorMiddleware``, sits outside every user middleware, where neither is
    known any more.
    """

    metrics: Metrics
    errors_from: Starlette

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = request_id_of(scope)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
            await send(message)

        try:
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                if response_started:
                    # Too late for a 500: the server closes the connection.
                    log.exception("the response failed after it had started")
                    raise
                response = await self._error_response(scope, receive, exc)
                await response(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            route_path = getattr(route, "path", "unmatched")
            method = scope["method"]
            self.metrics.http_requests.labels(method, route_path, str(status)).inc()
            self.metrics.http_latency.labels(method, route_path).observe(elapsed)
            log.info(
                "request",
                extra={
                    "method": method,
                    "path": route_path,
                    "status": status,
                    "ms": round(elapsed * 1000, 1),
                },
            )
            request_id_var.reset(token)

    async def _error_response(self, scope: Scope, receive: Receive, exc: Exception) -> Response:
        handlers = self.errors_from.exception_handlers
        handler = handlers.get(Exception) or handlers.get(500)
        if handler is not None:
            answer = handler(Request(scope, receive), exc)
            if inspect.isawaitable(answer):
                answer = await answer
            if isinstance(answer, Response):
                return answer
        log.error("unhandled error", exc_info=exc)
        return PlainTextResponse("Internal Server Error", status_code=500)
