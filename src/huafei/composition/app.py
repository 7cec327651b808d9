"""The application factory: one FastAPI app for the API, the portal and the sandboxes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

import huafei
from huafei import web
from huafei.carriers.deps import CHANNELS, INBOX
from huafei.composition.container import Container
from huafei.composition.routers import include_domain_routers
from huafei.composition.sandboxes import mount_sandboxes
from huafei.credit.deps import TOPUPS
from huafei.identity.cookies import OPENAPI_SECURITY
from huafei.identity.deps import IDENTITY_VERIFIER, SERVICE_PASSWORDS
from huafei.migrations import at_head
from huafei.payouts.deps import PAYOUTS
from huafei.portal.pages import html_error
from huafei.portal.ui import build_ui
from huafei.sms.deps import SMS_SENDER
from huafei.web.api_docs import install_api_docs
from huafei.web.context import Platform, bind_platform
from huafei.web.limits import install_body_limits
from huafei.web.middleware import RequestContextMiddleware
from huafei.web.openapi import install_openapi
from huafei.web.problems import install_problem_handlers, problem_response
from huafei.web.security import install_security

log = logging.getLogger("huafei.http")
STATIC_DIR = Path(web.__file__).resolve().parent / "static"


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
    app.state.container = container  # for the CLI and tests; routes never read it
    provide_platform(app, container)
    on_shutdown.append(container.inbox.close)
    app.state.portal_ui = build_ui()
    install_problem_handlers(app, html_errors=html_error)
    install_body_limits(app, container.settings)  # inside the request context: ids, metrics
    app.add_middleware(RequestContextMiddleware, metrics=container.metrics, errors_from=app)
    install_security(app, container.settings, container.metrics.registry)
    install_openapi(app, OPENAPI_SECURITY)
    _install_health_routes(app, container)
    install_api_docs(app, container.settings)
    include_domain_routers(app, sandboxes=container.settings.sandboxes)
    # The portal's own assets (htmx, the style sheet): no CDN, works offline.
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if container.settings.sandboxes:
        on_shutdown.extend(mount_sandboxes(app, container))
    return app


def provide_platform(app: FastAPI, container: Container) -> None:
    """What routes may ask for: the core pieces every route gets (``web.context.Platform``)
    and the pieces each domain declared (``Provided``)."""
    bind_platform(
        app,
        Platform(
            settings=container.settings,
            db=container.db,
            clock=container.clock,
            keyring=container.keyring,
            rate_limiter=container.rate_limiter,
        ),
    )
    SMS_SENDER.provide(app, container.sms)
    IDENTITY_VERIFIER.provide(app, container.identity_verifier)
    SERVICE_PASSWORDS.provide(app, container.service_passwords)
    PAYOUTS.provide(app, container.payouts)
    CHANNELS.provide(app, container.carriers)
    INBOX.provide(app, container.inbox)
    TOPUPS.provide(app, container.topups)


def _not_ready(detail: str) -> Response:
    return problem_response(
        503,
        {
            "type": "/problems/not_ready",
            "title": "Not ready",
            "status": 503,
            "detail": detail,
            "code": "not_ready",
        },
    )


def _install_health_routes(app: FastAPI, container: Container) -> None:
    @app.get("/healthz", tags=["operations"], summary="The process is alive")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Database reachable and migrated to head")
    def readyz() -> Response:
        try:
            with container.db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            migrated = at_head(container.db.engine)
        except Exception as exc:
            log.warning("readiness check failed", extra={"error": type(exc).__name__})
            return _not_ready("database unreachable")
        if not migrated:
            return _not_ready("database is not at the migration head; run `huafei migrate`")
        return Response('{"status":"ready"}', media_type="application/json")
