"""Request ids on every answer, 500s included, and log lines without query strings."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from huafei.composition.app import create_app
from huafei.composition.container import build_container
from huafei.core.logging import configure_logging
from huafei.core.settings import Settings
from live import huafei_server


@pytest.fixture
def client(db, clock):
    app = create_app(build_container(Settings(database_url=db.url), db=db, clock=clock))

    @app.get("/probe/crash")
    def crash() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def json_logs(capfd):
    """Call it once before the requests (JSON logging to the captured stderr), then again to
    read the lines logged since."""
    started = False

    def logs() -> list[dict]:
        nonlocal started
        if not started:
            configure_logging("INFO", json=True)  # in the test's phase: its stderr is captured
            started = True
            return []
        err = capfd.readouterr().err
        return [json.loads(line) for line in err.splitlines() if line.startswith("{")]

    yield logs
    logging.getLogger().handlers.clear()
    logging.getLogger().setLevel(logging.WARNING)


def test_a_500_carries_the_request_id_and_so_does_its_log_line(client, json_logs) -> None:
    json_logs()
    crash = client.get("/probe/crash", headers={"X-Request-ID": "req-crash-1"})
    assert crash.status_code == 500
    assert crash.json()["code"] == "internal_error"
    assert crash.headers["x-request-id"] == "req-crash-1"
    lines = json_logs()
    (error,) = [line for line in lines if line["message"] == "unhandled error"]
    assert error["request_id"] == "req-crash-1"
    assert "RuntimeError: boom" in error["exc_info"]
    (request,) = [line for line in lines if line["message"] == "request"]
    assert (request["request_id"], request["status"]) == ("req-crash-1", 500)


def test_a_500_without_an_incoming_id_gets_a_new_one(client, json_logs) -> None:
    json_logs()
    crash = client.get("/probe/crash")
    request_id = crash.headers["x-request-id"]
    assert len(request_id) == 32
    (error,) = [line for line in json_logs() if line["message"] == "unhandled error"]
    assert error["request_id"] == request_id


def test_a_browser_gets_the_error_page_with_the_request_id(client) -> None:
    crash = client.get("/probe/crash", headers={"Accept": "text/html", "X-Request-ID": "req-2"})
    assert crash.status_code == 500
    assert crash.headers["content-type"].startswith("text/html")
    assert crash.headers["x-request-id"] == "req-2"


@pytest.mark.parametrize("odd", ["a" * 65, "13800138000?token=x", "id with spaces"])
def test_an_odd_incoming_request_id_is_replaced(client, odd) -> None:
    answer = client.get("/healthz", headers={"X-Request-ID": odd})
    assert answer.headers["x-request-id"] != odd
    assert len(answer.headers["x-request-id"]) == 32


def test_uvicorn_access_lines_keep_only_the_path(json_logs) -> None:
    """As if someone switched uvicorn's access log on: its line reaches our handler (straight,
    whatever other tests did to the ``uvicorn.access`` logger) and keeps only the path."""
    json_logs()
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/sandbox/sms?phone=13800138000", "1.1", 200),
        None,
    )
    (handler,) = logging.getLogger().handlers
    handler.handle(record)
    (line,) = json_logs()
    assert line["message"] == '127.0.0.1:5000 - "GET /sandbox/sms HTTP/1.1" 200'


def test_huafei_serve_logs_no_query_string_and_ids_its_500s(tmp_path: Path, held_port) -> None:
    """The real server, at DEBUG: a database that was never migrated makes a route fail with a
    500. The answer carries the request id, the error's log line too, and no line carries what
    the query string said."""
    port = held_port
    env = {
        "HUAFEI_DATABASE_URL": f"sqlite:///{tmp_path / 'never-migrated.sqlite3'}",
        "HUAFEI_PORT": str(port),
        "HUAFEI_LOG_LEVEL": "DEBUG",
        "HUAFEI_LOG_JSON": "true",
        "HUAFEI_WORKER_IN_PROCESS": "false",
    }
    secret = "13800138000"
    with huafei_server(
        "serve", port=port, env=env, log=tmp_path / "out.log", stderr=tmp_path / "err.log"
    ) as server:
        base = f"http://127.0.0.1:{port}"
        ok = httpx.get(f"{base}/healthz", params={"phone": secret})
        assert ok.status_code == 200
        missing = httpx.get(f"{base}/no/such/page", params={"phone": secret})
        assert missing.status_code == 404
        failed = httpx.get(
            f"{base}/api/v1/rates/history",
            params={"profile": secret},
            headers={"X-Request-ID": "req-serve-500"},
        )
        assert failed.status_code == 500
        assert failed.headers["x-request-id"] == "req-serve-500"
    err = server.error_output()
    assert secret not in err
    assert "phone=" not in err
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    errors = [r for r in records if r["message"] == "unhandled error"]
    assert errors
    assert {r["request_id"] for r in errors} == {"req-serve-500"}
    assert [r for r in records if r["message"] == "request" and r["status"] == 200]
