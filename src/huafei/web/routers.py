"""Every domain's HTTP routes, mounted on the one application, and the sandboxes."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from huafei.container import Container
from huafei.notices.routes import router as notices_router
from huafei.payouts.routes import ROUTERS as PAYOUT_ROUTERS
from huafei.wallets.routes import router as wallets_router

ROUTERS: list[APIRouter] = [*PAYOUT_ROUTERS, wallets_router, notices_router]


def include_domain_routers(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)
    container: Container = app.state.container
    if container.settings.sandboxes:
        mount_sandboxes(app, container)


def mount_sandboxes(app: FastAPI, container: Container) -> None:
    """The external systems' sandboxes, each a real HTTP service under ``/sandbox``."""
    for rail, sandbox in container.payouts.sandboxes.items():
        app.mount(f"/sandbox/rails/{rail.value}", sandbox.app())
