"""The authorization matrix: every route of the app, called as every role, allowed or denied.

``MATRIX`` maps ``(METHOD, path template)`` to the roles that may call it. The test walks
``app.routes``: a route without a row fails it, a row without a route fails it, and each route
is called once per role (fresh credentials each time, no body, sample path parameters) —
an allowed role must get past authentication and authorization (anything but 401/403), a
denied one must get 401 when anonymous and 403 otherwise (``DENIED_STATUS`` overrides that
for a route that answers differently on purpose).

Adding a route? Add its row here, in the same change:

    ("POST", "/api/v1/orders"): SELLERS,
    ("GET", "/api/v1/staff/orders/{order_id}"): {SUPPORT, RISK, FINANCE, COMPLIANCE, ADMIN},

and a sample for each new path parameter in ``PATH_SAMPLES``. Roles are spelled out rather than
derived from ``ROLE_PERMISSIONS`` so this file checks the permission table too.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from factories import (
    bearer,
    make_container,
    make_partner_key,
    make_seller,
    make_staff,
    open_seller_session,
    open_staff_session,
)
from huafei.composition.app import create_app

ANONYMOUS = "anonymous"
SELLER_L1 = "seller_l1"
SELLER_L2 = "seller_l2"
SELLER_L3 = "seller_l3"
SUPPORT = "staff_support"
RISK = "staff_risk"
FINANCE = "staff_finance"
COMPLIANCE = "staff_compliance"
ADMIN = "staff_admin"
PARTNER = "partner"

SELLERS = frozenset({SELLER_L1, SELLER_L2, SELLER_L3})
STAFF = frozenset({SUPPORT, RISK, FINANCE, COMPLIANCE, ADMIN})
ROLES = (ANONYMOUS, *sorted(SELLERS), *sorted(STAFF), PARTNER)
EVERYONE = frozenset(ROLES)
NOBODY: frozenset[str] = frozenset()

#: Pages of the seller portal. Anonymous visitors are sent to the sign-in page (303, see
#: ``DENIED_STATUS``); a valid credential of another kind gets the 403 page.
SELLER_PAGES = (
    ("POST", "/sign-out"),
    ("GET", "/verify"),
    ("POST", "/verify/real-name"),
    ("POST", "/verify/service-password"),
    ("GET", "/notices"),
    ("POST", "/notices/{notice_id}/read"),
    ("POST", "/notices/read-all"),
    ("POST", "/notices/preferences"),
    ("GET", "/security"),
    ("POST", "/security/sessions/{session_id}/end"),
    ("POST", "/security/sign-out-everywhere"),
    ("GET", "/wallet"),
    ("POST", "/wallet/methods/code"),
    ("POST", "/wallet/methods"),
    ("POST", "/wallet/methods/{method_id}/remove"),
    ("POST", "/wallet/withdraw"),
    ("POST", "/wallet/withdraw/confirm"),
    ("POST", "/wallet/withdrawals/{withdrawal_id}/cancel"),
    ("GET", "/wallet/credit"),
    ("POST", "/wallet/credit/topup"),
    ("POST", "/wallet/credit/topup/confirm"),
    ("GET", "/sell"),
    ("GET", "/balance"),
    ("POST", "/balance"),
    ("GET", "/balance/{authorisation_id}"),
    ("POST", "/balance/{authorisation_id}/code"),
    ("POST", "/balance/{authorisation_id}/quote"),
    ("POST", "/balance/{authorisation_id}/sell"),
    ("GET", "/balance/sales/{sale_id}"),
    ("POST", "/sell/check"),
    ("POST", "/sell"),
    ("GET", "/batches/{batch_id}"),
    ("GET", "/batches/{batch_id}/progress"),
    ("GET", "/orders"),
    ("GET", "/orders/{order_id}"),
    ("POST", "/orders/{order_id}/cancel"),
)
#: Pages of the operations console, by who may open them (anonymous: 303 to the console's
#: sign-in page; a seller or a role without the permission: the 403 page).
CONSOLE_PAGES: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/console/sign-out"): STAFF,
    ("GET", "/console"): STAFF,
    ("GET", "/console/orders"): STAFF,
    ("GET", "/console/orders/{order_id}"): STAFF,
    ("GET", "/console/sellers"): STAFF,
    ("GET", "/console/sellers/{seller_id}"): STAFF,
    ("GET", "/console/withdrawals"): frozenset({FINANCE}),
    ("GET", "/console/withdrawals/{withdrawal_id}"): frozenset({FINANCE}),
    ("POST", "/console/withdrawals/{withdrawal_id}/approve"): frozenset({FINANCE}),
    ("POST", "/console/withdrawals/{withdrawal_id}/reject"): frozenset({FINANCE}),
    ("POST", "/console/withdrawals/{withdrawal_id}/notes"): frozenset({FINANCE}),
}
PAGE_SIGN_IN = 303

MATRIX: dict[tuple[str, str], frozenset[str]] = {
    # operations and documentation
    ("GET", "/healthz"): EVERYONE,
    ("GET", "/readyz"): EVERYONE,
    ("GET", "/metrics"): EVERYONE,
    ("GET", "/openapi.json"): EVERYONE,
    ("GET", "/docs"): EVERYONE,
    ("GET", "/docs/oauth2-redirect"): EVERYONE,
    ("GET", "/redoc"): EVERYONE,
    # sandboxes (mounted only when HUAFEI_SANDBOXES is on)
    ("GET", "/sandbox/sms"): EVERYONE,
    ("POST", "/sandbox/liveness"): EVERYONE,
    # seller sign-in
    ("POST", "/api/v1/auth/sms-codes"): EVERYONE,
    ("POST", "/api/v1/auth/sign-in/sms"): EVERYONE,
    ("POST", "/api/v1/auth/sign-in/password"): EVERYONE,
    # seller sessions, profile, KYC, limits
    ("POST", "/api/v1/auth/sign-out"): SELLERS,
    ("POST", "/api/v1/auth/sign-out-everywhere"): SELLERS,
    ("GET", "/api/v1/auth/sessions"): SELLERS,
    ("DELETE", "/api/v1/auth/sessions/{session_id}"): SELLERS,
    ("GET", "/api/v1/me"): SELLERS,
    ("PUT", "/api/v1/me/password"): SELLERS,
    ("GET", "/api/v1/me/limits"): SELLERS,
    ("POST", "/api/v1/me/kyc/real-name"): SELLERS,
    ("POST", "/api/v1/me/kyc/service-password"): SELLERS,
    # staff
    ("POST", "/api/v1/staff/auth/sign-in"): EVERYONE,
    ("POST", "/api/v1/staff/auth/sign-out"): STAFF,
    ("POST", "/api/v1/staff/auth/sign-out-everywhere"): STAFF,
    ("GET", "/api/v1/staff/auth/sessions"): STAFF,
    ("GET", "/api/v1/staff/me"): STAFF,
    ("PUT", "/api/v1/staff/me/password"): STAFF,
    ("GET", "/api/v1/staff/accounts"): frozenset({ADMIN}),
    ("POST", "/api/v1/staff/accounts"): frozenset({ADMIN}),
    ("PATCH", "/api/v1/staff/accounts/{staff_id}"): frozenset({ADMIN}),
    ("GET", "/api/v1/staff/sellers/{seller_id}"): STAFF,
    ("GET", "/api/v1/staff/sellers/{seller_id}/limits"): STAFF,
    ("GET", "/api/v1/staff/kyc-limits"): frozenset({RISK, FINANCE, COMPLIANCE, ADMIN}),
    ("GET", "/api/v1/staff/operation-log"): frozenset({COMPLIANCE, ADMIN}),
    ("GET", "/api/v1/staff/partners"): frozenset({ADMIN}),
    ("POST", "/api/v1/staff/partners"): frozenset({ADMIN}),
    ("POST", "/api/v1/staff/partners/{partner_id}/keys"): frozenset({ADMIN}),
    ("POST", "/api/v1/staff/partners/{partner_id}/keys/{key_id}/rotate"): frozenset({ADMIN}),
    ("DELETE", "/api/v1/staff/partners/{partner_id}/keys/{key_id}"): frozenset({ADMIN}),
    # partners
    ("GET", "/api/v1/partner/me"): frozenset({PARTNER}),
    # public rates, profiles, quote preview, the agreement
    ("GET", "/api/v1/profiles"): EVERYONE,
    ("GET", "/api/v1/rates"): EVERYONE,
    ("GET", "/api/v1/rates/history"): EVERYONE,
    ("GET", "/api/v1/quotes/preview"): EVERYONE,
    ("GET", "/api/v1/agreement"): EVERYONE,
    ("GET", "/api/v1/agreement/{version}"): EVERYONE,
    ("GET", "/api/v1/agreement/{version}/text"): EVERYONE,
    # channels' signed callbacks: no role, only a valid signature gets in
    ("POST", "/callbacks/carriers/{carrier}"): NOBODY,
    ("POST", "/callbacks/rails/{rail}"): NOBODY,
    # the seller's wallet, payout methods, withdrawals, notices
    ("GET", "/api/v1/wallet"): SELLERS,
    ("GET", "/api/v1/wallet/statement"): SELLERS,
    ("GET", "/api/v1/wallet/statement.csv"): SELLERS,
    ("GET", "/api/v1/wallet/statement.xlsx"): SELLERS,
    ("GET", "/api/v1/payout-methods"): SELLERS,
    ("POST", "/api/v1/payout-methods"): SELLERS,
    ("POST", "/api/v1/payout-methods/sms-code"): SELLERS,
    ("DELETE", "/api/v1/payout-methods/{method_id}"): SELLERS,
    ("POST", "/api/v1/withdrawals/quote"): SELLERS,
    ("GET", "/api/v1/withdrawals"): SELLERS,
    ("POST", "/api/v1/withdrawals"): SELLERS,
    ("GET", "/api/v1/withdrawals/{withdrawal_id}"): SELLERS,
    ("POST", "/api/v1/withdrawals/{withdrawal_id}/cancel"): SELLERS,
    # consumption credit (消费金) and its top-ups
    ("GET", "/api/v1/credit"): SELLERS,
    ("GET", "/api/v1/credit/history"): SELLERS,
    ("POST", "/api/v1/credit/topups/quote"): SELLERS,
    ("POST", "/api/v1/credit/topups"): SELLERS,
    ("GET", "/api/v1/credit/topups"): SELLERS,
    ("GET", "/api/v1/credit/topups/{topup_id}"): SELLERS,
    ("GET", "/api/v1/notices"): SELLERS,
    ("GET", "/api/v1/notices/unread-count"): SELLERS,
    ("GET", "/api/v1/notices/preferences"): SELLERS,
    ("PUT", "/api/v1/notices/preferences"): SELLERS,
    # recharge-card orders
    ("POST", "/api/v1/orders"): SELLERS,
    ("POST", "/api/v1/orders/batch"): SELLERS,
    ("POST", "/api/v1/orders/validate"): SELLERS,
    ("GET", "/api/v1/orders"): SELLERS,
    ("GET", "/api/v1/orders/{order_id}"): SELLERS,
    ("POST", "/api/v1/orders/{order_id}/cancel"): SELLERS,
    ("GET", "/api/v1/batches/{batch_id}"): SELLERS,
    # balance recycling: any seller may call; selling needs level 3 (a 403 with its own code
    # once the request is valid, see tests/test_balance_checks.py)
    ("GET", "/api/v1/balance/rates"): EVERYONE,
    ("POST", "/api/v1/balance/authorisations"): SELLERS,
    ("GET", "/api/v1/balance/authorisations/{authorisation_id}"): SELLERS,
    ("POST", "/api/v1/balance/authorisations/{authorisation_id}/code"): SELLERS,
    ("GET", "/api/v1/balance/authorisations/{authorisation_id}/balance"): SELLERS,
    ("POST", "/api/v1/balance/quotes"): SELLERS,
    ("POST", "/api/v1/balance/sales"): SELLERS,
    ("GET", "/api/v1/balance/sales"): SELLERS,
    ("GET", "/api/v1/balance/sales/{sale_id}"): SELLERS,
    ("POST", "/api/v1/notices/{notice_id}/read"): SELLERS,
    # finance: withdrawal approvals (four eyes), escrow, reconciliation
    ("GET", "/api/v1/finance/withdrawals"): frozenset({FINANCE}),
    ("GET", "/api/v1/finance/withdrawals/{withdrawal_id}"): frozenset({FINANCE}),
    ("POST", "/api/v1/finance/withdrawals/{withdrawal_id}/approve"): frozenset({FINANCE}),
    ("POST", "/api/v1/finance/withdrawals/{withdrawal_id}/reject"): frozenset({FINANCE}),
    ("POST", "/api/v1/finance/withdrawals/{withdrawal_id}/notes"): frozenset({FINANCE}),
    ("GET", "/api/v1/finance/escrow"): frozenset({FINANCE}),
    ("POST", "/api/v1/finance/escrow/sweeps"): frozenset({FINANCE}),
    ("GET", "/api/v1/finance/reconciliation/{rail}/{day}"): frozenset({FINANCE}),
    ("POST", "/api/v1/finance/reconciliation/{rail}/{day}"): frozenset({FINANCE}),
    ("GET", "/api/v1/finance/reconciliation-cases"): frozenset({FINANCE}),
    ("POST", "/api/v1/finance/reconciliation-cases/{case_id}/resolve"): frozenset({FINANCE}),
    # vouchers: the seller's own downloads; anyone verifies one with its number and code
    ("GET", "/api/v1/orders/{order_id}/voucher"): SELLERS,
    ("GET", "/api/v1/orders/{order_id}/voucher.pdf"): SELLERS,
    ("GET", "/api/v1/withdrawals/{withdrawal_id}/voucher"): SELLERS,
    ("GET", "/api/v1/withdrawals/{withdrawal_id}/voucher.pdf"): SELLERS,
    ("GET", "/api/v1/balance/sales/{sale_id}/voucher"): SELLERS,
    ("GET", "/api/v1/balance/sales/{sale_id}/voucher.pdf"): SELLERS,
    ("GET", "/api/v1/vouchers/verify"): EVERYONE,
    # the seller portal (pages): public ones, then the signed-in seller's
    ("GET", "/"): EVERYONE,
    ("GET", "/vouchers/verify"): EVERYONE,
    ("POST", "/language"): EVERYONE,
    ("GET", "/sign-in"): EVERYONE,
    ("POST", "/sign-in/code"): EVERYONE,
    ("POST", "/sign-in"): EVERYONE,
    **dict.fromkeys(SELLER_PAGES, SELLERS),
    ("GET", "/console/sign-in"): EVERYONE,
    ("POST", "/console/sign-in"): EVERYONE,
    **CONSOLE_PAGES,
}

#: A denied role normally gets 401 (anonymous) or 403 (anyone else); exceptions go here.
#: Signed callbacks answer 401 (no valid signature) to every role alike. Pages send anonymous
#: visitors to their sign-in page with a 303 instead of a 401.
DENIED_STATUS: dict[tuple[str, str], dict[str, int]] = {
    ("POST", "/callbacks/carriers/{carrier}"): dict.fromkeys(ROLES, 401),
    ("POST", "/callbacks/rails/{rail}"): dict.fromkeys(ROLES, 401),
    **{row: {ANONYMOUS: PAGE_SIGN_IN} for row in (*SELLER_PAGES, *CONSOLE_PAGES)},
}

PATH_SAMPLES = {
    "topup_id": "1",
    "seller_id": "1",
    "authorisation_id": "1",
    "sale_id": "1",
    "session_id": "1",
    "staff_id": "1",
    "partner_id": "1",
    "key_id": "0123456789abcdef",
    "version": "2026-11-01",
    "carrier": "cmcc",
    "rail": "bank",
    "day": "2026-11-25",
    "method_id": "1",
    "withdrawal_id": "1",
    "notice_id": "1",
    "case_id": "1",
    "order_id": "1",
    "batch_id": "1",
}

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def route_rows(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path template) the app answers, included routers flattened."""
    rows = set()
    for route in iter_route_contexts(app.routes):
        for method in route.methods or ():
            if method not in IGNORED_METHODS:
                rows.add((method, route.path or ""))
    return rows


def sample_path(template: str) -> str:
    path = template
    for name, value in PATH_SAMPLES.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"add a sample for the path parameter in {template} to PATH_SAMPLES"
    return path


def expected_denial(row: tuple[str, str], role: str) -> int:
    override = DENIED_STATUS.get(row, {})
    return override.get(role, 401 if role == ANONYMOUS else 403)


@pytest.fixture
def app(db, clock) -> FastAPI:
    return create_app(make_container(db, clock))


def test_every_route_has_a_row_and_every_row_a_route(app) -> None:
    routes = route_rows(app)
    missing = sorted(f"{m} {p}" for m, p in routes - MATRIX.keys())
    stale = sorted(f"{m} {p}" for m, p in MATRIX.keys() - routes)
    assert missing == [], "routes without a row in MATRIX (add them, see the top of this file)"
    assert stale == [], "rows in MATRIX for routes that do not exist"


def test_a_new_route_without_a_row_is_caught(app) -> None:
    @app.get("/api/v1/brand-new")
    def brand_new() -> None: ...

    assert route_rows(app) - MATRIX.keys() == {("GET", "/api/v1/brand-new")}


def test_every_role_on_every_route(app, db, clock) -> None:
    credentials = _credentials(db, clock)
    client = TestClient(app, follow_redirects=False)
    wrong = []
    for row in sorted(MATRIX):
        method, template = row
        path = sample_path(template)
        for role in ROLES:
            response = client.request(method, path, headers=credentials[role]())
            client.cookies.clear()
            if role in MATRIX[row]:
                if response.status_code in (401, 403):
                    wrong.append(f"{method} {template} as {role}: {response.status_code}, allowed")
            elif response.status_code != expected_denial(row, role):
                wrong.append(
                    f"{method} {template} as {role}: {response.status_code}, "
                    f"expected {expected_denial(row, role)}"
                )
    assert not wrong, "\n".join(wrong)


def _credentials(db, clock) -> dict[str, Callable[[], dict[str, str]]]:
    """Headers for each role; sessions are fresh per call (a route may sign its caller out)."""
    sellers = {
        SELLER_L1: make_seller(db, clock, tier=1),
        SELLER_L2: make_seller(db, clock, tier=2),
        SELLER_L3: make_seller(db, clock, tier=3),
    }
    staff = {role: make_staff(db, clock, role=role.removeprefix("staff_")) for role in STAFF}
    key = make_partner_key(db, clock)

    def seller_headers(role: str) -> Callable[[], dict[str, str]]:
        return lambda: bearer(open_seller_session(db, clock, sellers[role].id))

    def staff_headers(role: str) -> Callable[[], dict[str, str]]:
        return lambda: bearer(open_staff_session(db, clock, staff[role].id))

    credentials: dict[str, Callable[[], dict[str, str]]] = {
        ANONYMOUS: dict,
        PARTNER: lambda: {"X-API-Key": key.key},
    }
    credentials |= {role: seller_headers(role) for role in SELLERS}
    credentials |= {role: staff_headers(role) for role in STAFF}
    return credentials
