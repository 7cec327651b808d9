"""Every domain's HTTP routes, mounted on the one application.

``ROUTERS`` are always mounted; ``SANDBOX_ROUTERS`` only when ``settings.sandboxes`` is on. A new
domain's routers are added here, and nowhere else.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from huafei.balance.routes import router as balance_router
from huafei.carriers.routes import router as carriers_router
from huafei.credit.routes import router as credit_router
from huafei.identity.routes import seller as identity_seller
from huafei.identity.routes import staff as identity_staff
from huafei.notices.routes import router as notices_router
from huafei.orders.routes import router as orders_router
from huafei.payouts.routes import ROUTERS as PAYOUT_ROUTERS
from huafei.portal.account_routes import router as portal_account_router
from huafei.portal.balance_routes import router as portal_balance_router
from huafei.portal.console_routes import router as console_router
from huafei.portal.credit_routes import router as portal_credit_router
from huafei.portal.home_routes import router as portal_home_router
from huafei.portal.money_routes import router as portal_money_router
from huafei.portal.notice_routes import router as portal_notice_router
from huafei.portal.sell_routes import router as portal_sell_router
from huafei.portal.voucher_routes import router as portal_voucher_router
from huafei.rates.routes import router as rates_router
from huafei.sms.routes import sandbox_router as sms_sandbox_router
from huafei.vouchers.routes import router as vouchers_router
from huafei.wallets.routes import router as wallets_router

# A request is matched against the routes in this order: the busiest (channel callbacks, card
# submissions) come first. No two routers share a path, so the order decides nothing else.
ROUTERS: list[APIRouter] = [
    carriers_router,
    orders_router,
    identity_seller.router,
    identity_staff.router,
    identity_seller.partner_router,
    rates_router,
    balance_router,
    *PAYOUT_ROUTERS,
    wallets_router,
    credit_router,
    notices_router,
    vouchers_router,
    portal_home_router,
    portal_account_router,
    portal_notice_router,
    portal_money_router,
    portal_credit_router,
    portal_sell_router,
    portal_voucher_router,
    portal_balance_router,
    console_router,
]
SANDBOX_ROUTERS: list[APIRouter] = [sms_sandbox_router, identity_seller.sandbox_router]


def include_domain_routers(app: FastAPI, *, sandboxes: bool) -> None:
    for router in ROUTERS:
        app.include_router(router)
    if sandboxes:
        for router in SANDBOX_ROUTERS:
            app.include_router(router)
