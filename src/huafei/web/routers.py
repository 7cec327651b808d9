"""Every domain's HTTP routes, mounted on the one application."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from huafei.rates.routes import router as rates_router

ROUTERS: list[APIRouter] = [rates_router]


def include_domain_routers(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)
