"""Response headers every answer gets, and who may read ``/metrics``.

* ``X-Content-Type-Options: nosniff`` on every response; ``Cache-Control: no-store`` on API
  answers (JSON, problem documents, CSV and XLSX downloads), which hold personal and money data
  no shared cache or browser history should keep.
* In production, ``Strict-Transport-Security`` on every response (the platform is served over
  HTTPS by the reverse proxy; docs/deployment.md).
* ``/metrics`` (escrow and wallet totals among them): with ``HUAFEI_METRICS_TOKEN`` set, only
  for ``Authorization: Bearer <token>``; without one, open outside production and not served
  on the app in production. ``HUAFEI_METRICS_ADDRESS`` serves it instead on a listener of its
  own (an internal interface), which ``huafei serve`` starts.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, start_http_server
from prometheus_client.registry import CollectorRegistry
from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from huafei.core.settings import Settings
from huafei.web.middleware import HttpMiddleware
from huafei.web.problems import problem_response

HSTS = "max-age=31536000; includeSubDomains"
NO_STORE_TYPES = frozenset(
    {
        "application/json",
        "application/problem+json",
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
)


def install_security(app: FastAPI, settings: Settings, registry: CollectorRegistry) -> None:
    """The headers middleware and the ``/metrics`` route, as the settings say."""
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.is_production)
    if metrics_served_on_app(settings):
        _install_metrics_route(app, registry, settings)


@dataclass(eq=False, kw_only=True)
class SecurityHeadersMiddleware(HttpMiddleware):
    """Plain ASGI (no extra task per request, like the request middleware)."""

    hsts: bool

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
                if media_type in NO_STORE_TYPES:
                    headers["Cache-Control"] = "no-store"
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def metrics_served_on_app(settings: Settings) -> bool:
    if settings.metrics_token is not None:
        return True
    return not settings.is_production and not settings.metrics_address


def _install_metrics_route(app: FastAPI, registry: CollectorRegistry, settings: Settings) -> None:
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    def metrics(request: Request) -> Response:
        if token is not None and not _bearer_matches(request, token):
            refused = problem_response(
                401,
                {
                    "type": "/problems/metrics_token_required",
                    "title": "A metrics token is required",
                    "status": 401,
                    "detail": "send Authorization: Bearer <HUAFEI_METRICS_TOKEN>",
                    "code": "metrics_token_required",
                },
            )
            refused.headers["WWW-Authenticate"] = "Bearer"
            return refused
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _bearer_matches(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def start_metrics_listener(settings: Settings, registry: CollectorRegistry) -> WSGIServer | None:
    """Serve the metrics at ``HUAFEI_METRICS_ADDRESS`` from a thread of this process (any path
    answers them); returns the server (``.shutdown()`` stops it), or None without an address."""
    if not settings.metrics_address:
        return None
    host, port = parse_address(settings.metrics_address)
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server


def parse_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9100`` for IPv6) → host and port; ``ValueError`` otherwise."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected host:port, e.g. 127.0.0.1:9100")
    return host, int(port)
