"""The application factory: one FastAPI app for the API, the portal and the sandboxes."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import huafei
from huafei.container import Container
from huafei.core.logging import request_id_var
from huafei.core.metrics import Metrics
from huafei.migrations import at_head
from huafei.portal.pages import html_error
from huafei.portal.ui import build_ui
from huafei.web.deps import get_container
from huafei.web.limits import install_body_limits
from huafei.web.openapi import install_openapi
from huafei.web.problems import install_problem_handlers, problem_response
from huafei.web.routers import include_domain_routers
from huafei.web.sandboxes import mount_sandboxes

log = logging.getLogger("huafei.http")
STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(container: Container) -> FastAPI:
    on_shutdown: list[Callable[[], None]] = []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        for close in on_shutdown:
            close()

    app = FastAPI(
        title="Huafei API",
        version=huafei.__version__,
        description="Phone-credit recycling: sellers, partners, operations.",
        lifespan=lifespan,
    )
    app.state.container = container
    on_shutdown.append(container.inbox.close)
    app.state.portal_ui = build_ui()
    install_problem_handlers(app, html_errors=html_error)
    install_body_limits(app, container.settings)  # inside the request context: ids, metrics
    _install_request_middleware(app, container)
    install_openapi(app)
    _install_health_routes(app)
    include_domain_routers(app)
    # The portal's own assets (htmx, the style sheet): no CDN, works offline.
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if container.settings.sandboxes:
        on_shutdown.extend(mount_sandboxes(app, container))
    return app


def _install_request_middleware(app: FastAPI, container: Container) -> None:
    app.add_middleware(RequestContextMiddleware, metrics=container.metrics)


class RequestContextMiddleware:
    """Request id (``X-Request-ID``, taken from the caller when sane), metrics and one log line
    per request. Plain ASGI rather than ``BaseHTTPMiddleware``: no extra task and stream per
    request, which the callback endpoint's throughput notices."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if 0 < len(incoming) <= 64 else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
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


def _install_health_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["operations"], summary="The process is alive")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Database reachable and migrated to head")
    def readyz(request: Request) -> Response:
        container = get_container(request)
        try:
            with container.db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            migrated = at_head(container.db.engine)
        except Exception as exc:
            log.warning("readiness check failed", extra={"error": type(exc).__name__})
            return problem_response(
                503,
                {
                    "type": "/problems/not_ready",
                    "title": "Not ready",
                    "status": 503,
                    "detail": "database unreachable",
                    "code": "not_ready",
                },
            )
        if not migrated:
            return problem_response(
                503,
                {
                    "type": "/problems/not_ready",
                    "title": "Not ready",
                    "status": 503,
                    "detail": "database is not at the migration head; run `huafei migrate`",
                    "code": "not_ready",
                },
            )
        return Response('{"status":"ready"}', media_type="application/json")

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    def metrics(request: Request) -> Response:
        registry = get_container(request).metrics.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
