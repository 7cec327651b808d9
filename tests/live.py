"""The one harness for tests that need the platform, or one of its processes, over real HTTP
(a pytest plugin, see conftest.py; docs/testing.md).

* ``serve_live`` / the ``live_app`` fixture: the app served by uvicorn in a background thread,
  against the test's ``db`` and ``clock``, with the sandboxes mounted and the gateways pointed at
  it: a consumption goes out over HTTP to the sandbox and its signed callback comes back over HTTP
  to the platform, exactly as in production. Its socket is bound to port 0 here and handed to
  uvicorn, so no port is ever picked before it is bound: two tests cannot race for one.
* ``reserved_port``: for servers in a process of their own (``huafei serve``, ``huafei sandbox
  serve``), which bind their port themselves. A socket bound to port 0 with ``SO_REUSEADDR``, and
  never listening, holds the port while the block lasts: the kernel gives it to no other ``bind``
  to port 0 nor to any outgoing connection, while the server (uvicorn binds with
  ``SO_REUSEADDR`` too) binds and listens on it, again after a restart. Until a server listens
  there, a connection to it is refused: it is also the address of a service that is down.
* ``HuafeiProcess``: our command started as a process (a server or a worker), its output in a
  log file, stopped with SIGINT or killed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
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
from waiting import wait_for

#: Sandboxes consume cards this fast in tests (the machine is shared; keep waits short).
TEST_CALLBACK_DELAY_MS = 20
LOCALHOST = "127.0.0.1"


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
    """A socket bound to a port of 127.0.0.1 the kernel picks, not yet listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOCALHOST, 0))
    return sock


@contextmanager
def serve_live(db: Database, clock: Clock, **settings: Any) -> Iterator[LiveApp]:
    """Serve the platform on a port of its own until the block ends; then stop it and wait.

    ``settings`` override the test defaults below (any ``Settings`` field)."""
    sock = _bound_socket()
    base = f"http://{LOCALHOST}:{sock.getsockname()[1]}"
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
        wait_for(
            lambda: server.started or not thread.is_alive(),
            what="the live app to start",
            timeout=20,
        )
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


@pytest.fixture
def live_app(db: Database, clock: Clock) -> Iterator[LiveApp]:
    """The platform over real HTTP with the carrier sandboxes mounted (see module docstring)."""
    with serve_live(db, clock) as live:
        yield live


# -- servers and workers in processes of their own -----------------------------------------------
@contextmanager
def reserved_port() -> Iterator[int]:
    """A port of 127.0.0.1 that nobody else gets while the block lasts, and where nothing
    listens until a server started with it does (see the module docstring)."""
    holder = _bound_socket()
    try:
        yield int(holder.getsockname()[1])
    finally:
        holder.close()


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port from ``reserved_port``, held for the whole test."""
    with reserved_port() as port:
        yield port


def answers(url: str) -> bool:
    """Whether ``url`` answers 200 now."""
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class HuafeiProcess:
    """``python -m huafei ARGS`` with ``HUAFEI_*`` settings in its environment.

    Its output goes to ``log`` (stderr too, unless ``stderr`` names a file of its own). With
    ``clean``, the ``HUAFEI_*`` variables of the test run's own environment are left out.
    """

    def __init__(
        self,
        *args: str,
        env: Mapping[str, str],
        log: Path,
        stderr: Path | None = None,
        clean: bool = False,
    ) -> None:
        inherited = {k: v for k, v in os.environ.items() if not (clean and k.startswith("HUAFEI_"))}
        self.log = log
        self.stderr = stderr
        with log.open("ab") as out, (stderr or log).open("ab") as err:
            self.process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
                [sys.executable, "-m", "huafei", *args],
                env={**inherited, **env},
                stdout=out,
                stderr=subprocess.STDOUT if stderr is None else err,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def error_output(self) -> str:
        return (self.stderr or self.log).read_text(errors="replace")

    def running(self) -> bool:
        return self.process.poll() is None

    def wait_until_answering(self, url: str, *, timeout: float = 30) -> None:
        """Until ``url`` answers 200; fails at once (with the output) if the process ended."""
        wait_for(
            lambda: answers(url) or not self.running(),
            what=f"{url} to answer",
            timeout=timeout,
        )
        assert self.running(), f"the process ended:\n{self.output()}"

    def stop(self, *, timeout: float = 10) -> int:
        """SIGINT (uvicorn's and the worker's graceful stop), SIGKILL if it takes too long."""
        if self.running():
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return self.kill()

    def kill(self) -> int:
        """SIGKILL: the process dies wherever it is."""
        if self.running():
            self.process.kill()
        return self.process.wait(timeout=10)

    def terminate(self) -> int:
        """SIGTERM, then the end of the process."""
        if self.running():
            self.process.terminate()
        return self.process.wait(timeout=10)


@contextmanager
def huafei_server(
    *args: str,
    port: int,
    env: Mapping[str, str],
    log: Path,
    stderr: Path | None = None,
    clean: bool = False,
) -> Iterator[HuafeiProcess]:
    """A server of our command on ``port`` (from ``reserved_port``), up until the block ends."""
    server = HuafeiProcess(*args, env=env, log=log, stderr=stderr, clean=clean)
    try:
        server.wait_until_answering(f"http://{LOCALHOST}:{port}/healthz")
        yield server
    finally:
        server.stop()
