"""The processes of a chaos run, the PostgreSQL cluster, and the nemesis that kills and restarts
them."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from huafei.bench.chaos_state import Options, Tally
from huafei.bench.common import wait_healthy


@dataclass
class Process:
    """A `huafei` process the run starts, kills and starts again."""

    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    health_url: str | None = None
    popen: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    starts: int = 0

    def start(self) -> None:
        """Start it (again), its output appended to its log after a start marker."""
        self.starts += 1
        with self.log.open("ab") as log:
            log.write(f"\n--- start {self.starts} ---\n".encode())
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "huafei", *self.args],
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.started_at = time.monotonic()

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Until it answers its health check, or (a worker) its log says it started."""
        if self.popen is None:
            raise RuntimeError(f"{self.name} was never started")
        if self.health_url:
            wait_healthy(self.health_url, self.popen, timeout=timeout)
        else:
            _wait_started_since(self.log, self.starts, self.popen, timeout=timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=30)

    def stop(self) -> None:
        """Terminate it, killed if it takes too long."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    @property
    def running(self) -> bool:
        """Started and not exited."""
        return self.popen is not None and self.popen.poll() is None


def _wait_started_since(
    log: Path, starts: int, process: subprocess.Popen[bytes], *, timeout: float
) -> None:
    """A worker's log says "started" after its latest start marker."""
    deadline = time.monotonic() + timeout
    marker = f"--- start {starts} ---".encode()
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{log.name}: the process exited while starting")
        data = log.read_bytes()
        if b"started" in data[data.rfind(marker) :]:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{log.name}: did not start")


def postgres_cluster() -> tuple[str, str] | None:
    """The local cluster's version and name (Debian's layout), if there is one."""
    root = Path("/etc/postgresql")
    if not root.is_dir():
        return None
    for version in sorted(root.iterdir(), reverse=True):
        for cluster in sorted(version.iterdir()):
            if (cluster / "postgresql.conf").exists():
                return version.name, cluster.name
    return None


def restart_postgres(cluster: tuple[str, str], *, mode: str) -> float:
    """Restart the local PostgreSQL (``mode``: fast, or immediate — a crash and recovery);
    returns how long it took."""
    started = time.monotonic()
    subprocess.run(
        [
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            cluster[0],
            cluster[1],
            "restart",
            "--mode",
            mode,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return time.monotonic() - started


def nemesis(
    options: Options,
    rng: random.Random,
    victims: list[Process],
    *,
    cluster: tuple[str, str] | None,
    tally: Tally,
    stop: threading.Event,
    started: float,
) -> None:
    """SIGKILL a random victim every few seconds and start it again at once; restart PostgreSQL
    at evenly spaced moments of the run."""
    restarts_due = [
        started + options.seconds * (i + 1) / (options.pg_restarts + 1)
        for i in range(options.pg_restarts)
    ]
    while not stop.wait(rng.uniform(*options.kill_every)):
        if restarts_due and time.monotonic() >= restarts_due[0] and cluster is not None:
            restarts_due.pop(0)
            mode = "fast" if len(tally.pg_restarts) % 2 == 0 else "immediate"
            at = time.monotonic()
            tally.pg_restarts.append((at, restart_postgres(cluster, mode=mode)))
            continue
        # A process still starting up is left alone: a kill is of a process at work.
        ready = [p for p in victims if p.running and time.monotonic() - p.started_at > 3.0]
        if not ready:
            continue
        victim = rng.choice(ready)
        victim.kill()
        tally.kills[victim.name] += 1
        victim.start()
