"""Operations endpoints outside production: the API documentation served from the app's own
assets, `/metrics` with and without a token or its own listener, and the security headers."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient

from factories import make_client, make_container, new_phone, seller_token
from huafei.composition.app import create_app
from huafei.web.security import start_metrics_listener
from live import LOCALHOST

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class TestApiDocs:
    def test_swagger_ui_and_redoc_load_nothing_from_outside(self, db, clock) -> None:
        client = make_client(db, clock)
        for page, asset in (
            ("/docs", "/docs-assets/swagger-ui-bundle.js"),
            ("/docs", "/docs-assets/swagger-ui.css"),
            ("/redoc", "/docs-assets/redoc.standalone.js"),
        ):
            html = client.get(page)
            assert html.status_code == 200
            assert asset in html.text
            assert re.findall(r"""(?:src|href)=["']?(https?:)""", html.text) == [], page
            assert "cdn" not in html.text.lower()
            served = client.get(asset)
            assert served.status_code == 200, asset
            assert len(served.content) > 10_000
        assert client.get("/docs/oauth2-redirect").status_code == 200
        spec = client.get("/openapi.json").json()
        assert "/api/v1/auth/sms-codes" in spec["paths"]
        assert "/docs" not in spec["paths"]

    def test_docs_can_be_switched_off(self, db, clock) -> None:
        client = make_client(db, clock, api_docs=False)
        for path in ("/docs", "/redoc", "/openapi.json", "/docs-assets/swagger-ui.css"):
            assert client.get(path).status_code == 404, path


class TestMetrics:
    def test_open_in_development_without_a_token(self, db, clock) -> None:
        assert make_client(db, clock).get("/metrics").status_code == 200

    def test_a_token_closes_them(self, db, clock) -> None:
        client = make_client(db, clock, metrics_token="scrape-token-0123456789")
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Basic x"}).status_code == 401
        opened = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"})
        assert opened.status_code == 200
        assert "huafei_escrow" in opened.text

    def test_their_own_listener_instead_of_the_app(self, db, clock, held_port) -> None:
        address = f"{LOCALHOST}:{held_port}"
        container = make_container(db, clock, metrics_address=address)
        assert TestClient(create_app(container)).get("/metrics").status_code == 404
        server = start_metrics_listener(container.settings, container.metrics.registry)
        assert server is not None
        try:
            scraped = httpx.get(f"http://{address}/metrics", timeout=5)
            assert scraped.status_code == 200
            assert "huafei_escrow" in scraped.text
        finally:
            server.shutdown()
            server.server_close()


class TestSecurityHeaders:
    def test_api_answers_are_not_stored_or_sniffed(self, db, clock) -> None:
        client = make_client(db, clock)
        token = seller_token(client, new_phone())
        me = {"Authorization": f"Bearer {token}"}
        answers = {
            "json": client.get("/api/v1/me", headers=me),
            "problem": client.get("/api/v1/me"),
            "csv": client.get("/api/v1/wallet/statement.csv", headers=me),
            "xlsx": client.get("/api/v1/wallet/statement.xlsx", headers=me),
        }
        assert answers["problem"].headers["content-type"] == "application/problem+json"
        assert answers["csv"].headers["content-type"].startswith("text/csv")
        assert answers["xlsx"].headers["content-type"] == XLSX
        for kind, answer in answers.items():
            assert answer.headers["x-content-type-options"] == "nosniff", kind
            assert answer.headers["cache-control"] == "no-store", kind
            assert "strict-transport-security" not in answer.headers, kind  # not production

    def test_static_assets_stay_cacheable(self, db, clock) -> None:
        asset = make_client(db, clock).get("/docs-assets/swagger-ui.css")
        assert asset.headers["x-content-type-options"] == "nosniff"
        assert "no-store" not in asset.headers.get("cache-control", "")
