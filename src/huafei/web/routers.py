"""Every domain's HTTP routes, mounted on the one application."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from huafei.carriers.routes import router as carriers_router
from huafei.notices.routes import router as notices_router
from huafei.payouts.routes import ROUTERS as PAYOUT_ROUTERS
from huafei.rates.routes import router as rates_router
from huafei.wallets.routes import router as wallets_router

ROUTERS: list[APIRouter] = [
    rates_router,
    carriers_router,
    *PAYOUT_ROUTERS,
    wallets_router,
    notices_router,
]


def include_domain_routers(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)
