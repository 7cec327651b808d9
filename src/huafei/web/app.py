"""The application factory: one FastAPI app for the API, the portal and the sandboxes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

import huafei
from huafei.container import Container
from huafei.migrations import at_head
from huafei.portal.pages import html_error
from huafei.portal.ui import build_ui
from huafei.web.api_docs import install_api_docs
from huafei.web.deps import get_container
from huafei.web.limits import install_body_limits
from huafei.web.middleware import RequestContextMiddleware
from huafei.web.openapi import install_openapi
from huafei.web.problems import install_problem_handlers, problem_response
from huafei.web.routers import include_domain_routers
from huafei.web.sandboxes import mount_sandboxes
from huafei.web.security import install_security

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
        # Served by install_api_docs from local assets, and only where the settings allow.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.container = container
    on_shutdown.append(container.inbox.close)
    app.state.portal_ui = build_ui()
    install_problem_handlers(app, html_errors=html_error)
    install_body_limits(app, container.settings)  # inside the request context: ids, metrics
    _install_request_middleware(app, container)
    install_security(app, container)  # security headers, who may read /metrics
    install_openapi(app)
    _install_health_routes(app)
    install_api_docs(app, container.settings)
    include_domain_routers(app)
    # The portal's own assets (htmx, the style sheet): no CDN, works offline.
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if container.settings.sandboxes:
        on_shutdown.extend(mount_sandboxes(app, container))
    return app


def _install_request_middleware(app: FastAPI, container: Container) -> None:
    app.add_middleware(RequestContextMiddleware, metrics=container.metrics, errors_from=app)


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
