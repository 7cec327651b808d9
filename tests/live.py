"""The whole platform served over real HTTP for tests (a pytest plugin, see conftest.py).

``live_app`` runs the app with uvicorn in a background thread on a free port, against the test's
``db`` and frozen ``clock``, with the carrier sandboxes mounted and the gateways pointed at that
port: a consumption goes out over HTTP to the sandbox and its signed callback comes back over HTTP
to the platform, exactly as in production.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
import uvicorn
from fastapi import FastAPI

from huafei.carriers.gateway import Carrier, CarrierGateway
from huafei.carriers.sandbox import CarrierSandbox
from huafei.composition.app import create_app
from huafei.composition.container import Container, build_container
from huafei.core.clock import Clock
from huafei.core.db import Database
from huafei.core.settings import Settings

T = TypeVar("T")

#: Sandboxes consume cards this fast in tests (the machine is shared; keep waits short).
TEST_CALLBACK_DELAY_MS = 20


@dataclass
class LiveApp:
    url: str
    container: Container
    app: FastAPI

    @property
    def sandboxes(self) -> dict[Carrier, CarrierSandbox]:
        return self.app.state.carrier_sandboxes  # type: ignore[no-any-return]

    def sandbox(self, carrier: Carrier) -> CarrierSandbox:
        return self.sandboxes[carrier]

    def gateway(self, carrier: Carrier) -> CarrierGateway:
        return self.container.carriers[carrier]

    def sandbox_url(self, carrier: Carrier) -> str:
        return f"{self.url}/sandbox/carriers/{carrier.value}"

    def wait_for_callbacks(self, timeout: float = 5.0) -> None:
        """Until every sandbox has delivered (or given up on) everything due."""
        for sandbox in self.sandboxes.values():
            assert sandbox.wait_until_idle(timeout), f"{sandbox.carrier} still busy"


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve_live(db: Database, clock: Clock, **settings: Any) -> Iterator[LiveApp]:
    """Serve the platform on a free port until the block ends; then stop it and wait."""
    sock = _bound_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    values: dict[str, Any] = {
        "database_url": db.url,
        "sandboxes": True,
        "public_base_url": base,
        "carrier_base_url": f"{base}/sandbox/carriers",
        "carrier_timeout_seconds": 5.0,
        "sandbox_callback_delay_ms": TEST_CALLBACK_DELAY_MS,
        "sandbox_state_path": None,
        "worker_in_process": False,
        **settings,
    }
    container = build_container(Settings(**values), db=db, clock=clock)
    app = create_app(container)
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="live-app", daemon=True
    )
    thread.start()
    try:
        _wait_until(lambda: server.started or not thread.is_alive(), timeout=10)
        if not server.started:
            raise RuntimeError("the live app did not start")
        yield LiveApp(url=base, container=container, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        for gateway in container.carriers.values():
            close = getattr(gateway, "close", None)
            if close is not None:
                close()
        sock.close()
        if thread.is_alive():
            raise RuntimeError("the live app did not stop")


def _wait_until(condition: Callable[[], bool], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.01)


def eventually(read: Callable[[], T], ok: Callable[[T], bool], *, timeout: float = 5.0) -> T:
    """Read until ``ok`` holds (for effects that arrive over HTTP); the last value otherwise."""
    deadline = time.monotonic() + timeout
    value = read()
    while not ok(value) and time.monotonic() < deadline:
        time.sleep(0.02)
        value = read()
    return value


@pytest.fixture
def live_app(db: Database, clock: Clock) -> Iterator[LiveApp]:
    """The platform over real HTTP with the carrier sandboxes mounted (see module docstring)."""
    with serve_live(db, clock) as live:
        yield live
