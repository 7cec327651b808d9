"""The HTTP plumbing: health, readiness, OpenAPI, metrics, problem details, request ids."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from huafei.composition.app import create_app
from huafei.composition.container import build_container
from huafei.core.db import Database
from huafei.core.errors import NotFound
from huafei.core.logging import configure_logging
from huafei.core.settings import Settings


@pytest.fixture
def client(db, clock):
    container = build_container(Settings(database_url=db.url), db=db, clock=clock)
    app = create_app(container)
    _add_probe_routes(app)
    with TestClient(app) as test_client:
        yield test_client


class Probe(BaseModel):
    amount: int


def _add_probe_routes(app: FastAPI) -> None:
    @app.get("/probe/missing")
    def missing() -> None:
        raise NotFound("order 42 does not exist", order_id=42)

    @app.post("/probe/echo")
    def echo(body: Probe) -> Probe:
        return body

    @app.get("/probe/crash")
    def crash() -> None:
        raise RuntimeError("boom")


def test_healthz(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_when_migrated(client) -> None:
    assert client.get("/readyz").status_code == 200


def test_readyz_when_not_migrated(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    app = create_app(build_container(Settings(database_url=db.url), db=db))
    with TestClient(app) as test_client:
        response = test_client.get("/readyz")
    db.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not_ready"


def test_openapi(client) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "Huafei API"
    assert "/healthz" in spec["paths"]


def test_metrics_count_requests(client) -> None:
    client.get("/healthz")
    body = client.get("/metrics").text
    assert 'huafei_http_requests_total{method="GET",route="/healthz",status="200"}' in body


def test_domain_error_is_a_problem_document(client) -> None:
    response = client.get("/probe/missing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "not_found"
    assert problem["type"] == "/problems/not_found"
    assert problem["detail"] == "order 42 does not exist"
    assert problem["order_id"] == 42
    assert problem["instance"] == "/probe/missing"


def test_invalid_body_is_a_validation_problem(client) -> None:
    response = client.post("/probe/echo", json={"amount": "lots"})
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "validation_failed"
    assert problem["errors"][0]["loc"] == ["body", "amount"]


def test_unknown_route_and_crash(client) -> None:
    assert client.get("/nope").json()["code"] == "not_found"
    crash = TestClient(client.app, raise_server_exceptions=False).get("/probe/crash")
    assert crash.status_code == 500
    assert crash.json()["code"] == "internal_error"
    assert "boom" not in crash.text


def test_request_id_in_header_and_json_logs(client, capfd) -> None:
    configure_logging("INFO", json=True)
    response = client.get("/healthz", headers={"X-Request-ID": "req-123"})
    assert response.headers["x-request-id"] == "req-123"
    lines = [
        json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")
    ]
    request_lines = [line for line in lines if line.get("message") == "request"]
    assert request_lines
    assert request_lines[-1]["request_id"] == "req-123"
    assert request_lines[-1]["status"] == 200
    logging.getLogger().handlers.clear()
