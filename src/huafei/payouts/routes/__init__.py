"""HTTP routes of the payout domain, one module per audience: ``seller`` (payout methods and
withdrawals), ``finance`` (approvals, escrow, reconciliation) and ``callbacks`` (the rails'
signed results).

Money-moving POSTs need an ``Idempotency-Key`` header: the same key and body answer with the
first response (``Idempotent-Replayed: true``), the same key with another body is a 409 problem.
"""

from __future__ import annotations

from fastapi import APIRouter

from huafei.payouts.routes import callbacks, finance, seller

ROUTERS: tuple[APIRouter, ...] = (seller.router, finance.router, callbacks.router)
