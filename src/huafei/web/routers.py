"""Every domain's HTTP routes, mounted on the one application."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from huafei.carriers.routes import router as carriers_router

ROUTERS: list[APIRouter] = [carriers_router]


def include_domain_routers(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)
