"""Every domain's HTTP routes, mounted on the one application."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from huafei.carriers.routes import router as carriers_router
from huafei.rates.routes import router as rates_router

ROUTERS: list[APIRouter] = [rates_router, carriers_router]


def include_domain_routers(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)
