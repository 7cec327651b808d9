"""A sandbox of each payout rail: a real HTTP service that behaves like the rail.

Mounted at ``/sandbox/rails/{rail}`` when ``HUAFEI_SANDBOXES`` is on. It checks the platform's
signatures, is idempotent on the payout id, settles each payout asynchronously after
``settle_seconds`` and reports the result with a signed callback, retried until the platform
answers ``SUCCESS``. Tests switch failures on over HTTP (``POST /_control/failures``):

========================  ===================================================================
mode                      effect on the next ``count`` payouts
========================  ===================================================================
``account_frozen``        accepted, then fails with ``ACCOUNT_FROZEN``
``name_mismatch``         accepted, then fails with ``NAME_MISMATCH``
``limit_exceeded``        refused at once (``accepted: false``, ``LIMIT_EXCEEDED``)
``timeout``               accepted and recorded, but the answer comes ``delay_seconds`` late
``duplicate_result``      the result callback is delivered twice
``lost_result``           no callback at all; only a query tells the result
========================  ===================================================================

The carrier-wallet rail refuses at once (``INVALID_ACCOUNT``) a payout whose account is not a
mainland mobile number or whose ``bank_code`` names no carrier, as a wallet is a phone number.

Each sandbox writes its daily statement file in the rail's format (``statements``) to
``HUAFEI_SANDBOX_DIR/rails/{rail}/``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from huafei.core.clock import Clock
from huafei.core.days import local_day
from huafei.core.settings import Settings
from huafei.payouts.accounts import mask_name
from huafei.payouts.models import RailName
from huafei.payouts.rails import statements
from huafei.payouts.rails.base import (
    BadRailSignature,
    PayoutResult,
    PayoutStatus,
    canonical_json,
    rail_secrets,
    signed_headers,
    verify_signature,
)
from huafei.payouts.rails.sandbox_records import (
    FAILURES,
    FailureMode,
    Rule,
    SandboxPayout,
    account_refusal,
    mask_account,
    restore,
    to_state,
)

log = logging.getLogger(__name__)

RAILS_PREFIX = "/sandbox/rails"

CALLBACK_SCHEDULE = (0.0, 0.5, 2.0, 5.0, 15.0, 60.0)


class FailureSwitch(BaseModel):
    mode: FailureMode
    count: int = Field(default=1, ge=1, le=1000)
    delay_seconds: float = Field(default=3.0, ge=0, le=120)


class SandboxSettings(BaseModel):
    settle_seconds: float = Field(ge=0, le=3600)


class RailSandbox:
    def __init__(
        self,
        rail: RailName,
        *,
        secret: bytes,
        clock: Clock,
        statement_dir: Path | None = None,
        window_seconds: int = 300,
        settle_seconds: float = 1.0,
        state_path: Path | None = None,
    ) -> None:
        self.rail = rail
        self.secret = secret
        self.clock = clock
        self.statement_dir = statement_dir
        self.window_seconds = window_seconds
        self.settle_seconds = settle_seconds
        self._lock = threading.Lock()
        self._payouts: dict[str, SandboxPayout] = {}
        self._rules: list[Rule] = []
        self._sequence = 0
        self._state_path = state_path
        self._state_file: TextIO | None = None
        self._load_state()

    # -- durable state (a sandbox of its own process: ``huafei sandbox serve --rails``) ----------
    def _load_state(self) -> None:
        """The payouts an earlier process of this sandbox recorded (the last line of each wins);
        the unsettled ones settle and the uncalled-back ones are called back again."""
        if self._state_path is None or not self._state_path.exists():
            return
        for line in self._state_path.read_text(encoding="utf-8").splitlines():
            try:
                payout = restore(json.loads(line))
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a kill mid-write
            self._payouts[payout.payout_id] = payout
        self._sequence = len(self._payouts)
        for payout in self._payouts.values():
            if not payout.status.final:
                self._start(self.settle_seconds, self._settle, payout.payout_id)
            elif (
                not payout.refused
                and not payout.callbacks_delivered
                and FailureMode.LOST_RESULT not in payout.modes
            ):
                self._start(
                    0.0, self._deliver, payout.payout_id, payout.notify_url, payout.result()
                )

    @staticmethod
    def _start(delay: float, action: Any, *args: Any) -> None:
        timer = threading.Timer(delay, action, args=args)
        timer.daemon = True
        timer.start()

    def _write_state(self, payout: SandboxPayout) -> None:
        """Append the payout as it is now (holds the lock); flushed before the rail answers, so
        a process killed right after keeps it."""
        if self._state_path is None:
            return
        if self._state_file is None:
            self._state_path.parent.mkdir(parents=True, exist_ok=True)
            self._state_file = self._state_path.open("a", encoding="utf-8")
        self._state_file.write(json.dumps(to_state(payout), ensure_ascii=False) + "\n")
        self._state_file.flush()

    def close(self) -> None:
        with self._lock:
            if self._state_file is not None:
                self._state_file.close()
                self._state_file = None

    # -- the rail's behaviour ---------------------------------------------------------------------
    def _take_rules(self) -> list[Rule]:
        """Every switched-on failure applies to the next payout (they combine: a ``timeout``
        and a ``lost_result`` together make a payout whose answer and callback never come)."""
        taken = []
        for rule in self._rules:
            if rule.remaining > 0:
                rule.remaining -= 1
                taken.append(rule)
        return taken

    def submit(self, order: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
        """Record a payout; returns the HTTP status, the body and how long to delay the answer."""
        payout_id = str(order["payout_id"])
        # A digest, not the order: the state file then holds no account number in clear.
        fingerprint = hashlib.sha256(canonical_json(order)).hexdigest()
        now = self.clock.now()
        with self._lock:
            existing = self._payouts.get(payout_id)
            if existing is not None:
                if existing.fingerprint != fingerprint:
                    return 409, {"error": "payout id reused with different fields"}, 0.0
                existing.submissions += 1
                self._write_state(existing)
                return 200, self._ack(existing), 0.0
            self._sequence += 1
            rules = self._take_rules()
            modes = {rule.mode for rule in rules}
            payout = SandboxPayout(
                payout_id=payout_id,
                fingerprint=fingerprint,
                amount_fen=int(order["amount_fen"]),
                account_no=str(order["account_no"]),
                account_name=str(order["account_name"]),
                notify_url=str(order["notify_url"]),
                rail_ref=f"{self.rail.upper()}{now:%Y%m%d}{self._sequence:08d}",
                accepted_at=now,
                modes=modes,
            )
            self._payouts[payout_id] = payout
            refusal = (
                FAILURES[FailureMode.LIMIT_EXCEEDED]
                if FailureMode.LIMIT_EXCEEDED in modes
                else account_refusal(self.rail, order)
            )
            if refusal is not None:
                payout.refused = True
                payout.status = PayoutStatus.FAILED
                payout.code, payout.reason = refusal
                payout.finished_at = now
                self._write_state(payout)
                return 200, self._ack(payout), 0.0
            self._write_state(payout)
        delay = max((r.delay_seconds for r in rules if r.mode is FailureMode.TIMEOUT), default=0.0)
        self._start(self.settle_seconds, self._settle, payout_id)
        return 200, self._ack(payout), delay

    @staticmethod
    def _ack(payout: SandboxPayout) -> dict[str, Any]:
        if payout.refused:
            return {"accepted": False, "code": payout.code, "reason": payout.reason}
        return {"accepted": True, "rail_ref": payout.rail_ref}

    def _settle(self, payout_id: str) -> None:
        with self._lock:
            payout = self._payouts[payout_id]
            if payout.status.final:
                return
            failure = next(
                (
                    m
                    for m in (FailureMode.ACCOUNT_FROZEN, FailureMode.NAME_MISMATCH)
                    if m in payout.modes
                ),
                None,
            )
            if failure is not None:
                payout.status = PayoutStatus.FAILED
                payout.code, payout.reason = FAILURES[failure]
            else:
                payout.status = PayoutStatus.SUCCEEDED
            payout.finished_at = self.clock.now()
            self._write_state(payout)
            modes = set(payout.modes)
            result = payout.result()
        if FailureMode.LOST_RESULT in modes:
            return
        copies = 2 if FailureMode.DUPLICATE_RESULT in modes else 1
        for _ in range(copies):
            self._deliver(payout_id, payout.notify_url, result)

    def _deliver(self, payout_id: str, url: str, result: PayoutResult) -> None:
        body = canonical_json(result.to_json())
        for delay in CALLBACK_SCHEDULE:
            time.sleep(delay)
            headers = signed_headers(self.secret, body, self.clock.now())
            headers["Content-Type"] = "application/json"
            try:
                response = httpx.post(url, content=body, headers=headers, timeout=10)
            except httpx.HTTPError as exc:
                log.info("sandbox callback failed", extra={"rail": self.rail, "error": str(exc)})
                continue
            if response.status_code == 200 and response.text.strip() == "SUCCESS":
                with self._lock:
                    delivered = self._payouts.get(payout_id)
                    if delivered is not None:
                        delivered.callbacks_delivered += 1
                        self._write_state(delivered)
                return

    def query(self, payout_id: str) -> PayoutResult:
        with self._lock:
            payout = self._payouts.get(payout_id)
            if payout is None:
                return PayoutResult(payout_id=payout_id, status=PayoutStatus.UNKNOWN)
            return payout.result()

    def statement(self, day: date) -> bytes:
        """The statement for ``day``: every payout the rail finished that day (not refusals)."""
        with self._lock:
            entries = [
                statements.StatementEntry(
                    payout_id=p.payout_id,
                    rail_ref=p.rail_ref,
                    amount_fen=p.amount_fen,
                    status="succeeded" if p.status is PayoutStatus.SUCCEEDED else "failed",
                    booked_at=p.finished_at,
                    account_masked=mask_account(p.account_no),
                    name_masked=mask_name(p.account_name),
                    reason=p.reason or "",
                )
                for p in self._payouts.values()
                if p.finished_at is not None and not p.refused and local_day(p.finished_at) == day
            ]
        data = statements.render(self.rail, day, entries)
        if self.statement_dir is not None:
            folder = self.statement_dir / "rails" / self.rail.value
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{self.rail.value}-{day:%Y%m%d}.{statements.extension(self.rail)}"
            (folder / name).write_bytes(data)
        return data

    # -- test switches ----------------------------------------------------------------------------
    def switch(self, mode: FailureMode, *, count: int = 1, delay_seconds: float = 3.0) -> None:
        with self._lock:
            self._rules.append(Rule(mode, count, delay_seconds))

    def reset(self) -> None:
        with self._lock:
            self._rules.clear()
            self._payouts.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "payout_id": p.payout_id,
                    "rail_ref": p.rail_ref,
                    "amount_fen": p.amount_fen,
                    "status": p.status.value,
                    "code": p.code,
                    "submissions": p.submissions,
                    "callbacks_delivered": p.callbacks_delivered,
                    "paid": p.status is PayoutStatus.SUCCEEDED,
                    "modes": sorted(m.value for m in p.modes),
                }
                for p in self._payouts.values()
            ]

    # -- HTTP -------------------------------------------------------------------------------------
    def _verified(self, request: Request, body: bytes) -> JSONResponse | None:
        try:
            verify_signature(
                self.secret,
                dict(request.headers),
                body,
                now=self.clock.now(),
                window_seconds=self.window_seconds,
            )
        except BadRailSignature as exc:
            return JSONResponse({"error": exc.detail}, status_code=401)
        return None

    def app(self) -> FastAPI:
        """The sandbox as an HTTP service: the rail's signed endpoints and the test switches."""
        app = FastAPI(title=f"{self.rail} rail sandbox", docs_url=None, redoc_url=None)
        self._add_rail_routes(app)
        self._add_control_routes(app)
        return app

    def _add_rail_routes(self, app: FastAPI) -> None:
        @app.post("/payouts")
        async def submit(request: Request) -> Response:
            body = await request.body()
            refused = self._verified(request, body)
            if refused is not None:
                return refused
            try:
                order = json.loads(body)
                status, answer, delay = self.submit(order)
            except (ValueError, KeyError, TypeError):
                return JSONResponse({"error": "malformed payout order"}, status_code=400)
            if delay:
                # The payout is recorded; only the answer is late (what a timeout looks like).
                await _sleep(delay)
            return JSONResponse(answer, status_code=status)

        @app.get("/payouts/{payout_id}")
        async def query(payout_id: str, request: Request) -> Response:
            refused = self._verified(request, await request.body())
            if refused is not None:
                return refused
            return JSONResponse(self.query(payout_id).to_json())

        @app.get("/statements/{day}")
        async def statement(day: date, request: Request) -> Response:
            refused = self._verified(request, await request.body())
            if refused is not None:
                return refused
            return Response(self.statement(day), media_type="application/octet-stream")

    def _add_control_routes(self, app: FastAPI) -> None:
        @app.post("/_control/failures")
        def failures(switch: FailureSwitch) -> dict[str, str]:
            self.switch(switch.mode, count=switch.count, delay_seconds=switch.delay_seconds)
            return {"status": "ok"}

        @app.post("/_control/settings")
        def settings(values: SandboxSettings) -> dict[str, str]:
            self.settle_seconds = values.settle_seconds
            return {"status": "ok"}

        @app.post("/_control/reset")
        def reset() -> dict[str, str]:
            self.reset()
            return {"status": "ok"}

        @app.get("/_control/payouts")
        def payouts() -> list[dict[str, Any]]:
            return self.snapshot()


def build_rail_sandboxes(
    settings: Settings, clock: Clock, *, state_dir: Path | None = None
) -> dict[RailName, RailSandbox]:
    """One sandbox per rail with the platform's rail secrets; with ``state_dir`` each keeps its
    payouts in ``{state_dir}/{rail}.jsonl`` across restarts."""
    secrets = rail_secrets(settings.payout_rail_secrets.get_secret_value())
    return {
        rail: RailSandbox(
            rail,
            secret=secrets[rail],
            clock=clock,
            statement_dir=Path(settings.sandbox_dir),
            window_seconds=settings.payout_callback_window_seconds,
            settle_seconds=settings.sandbox_rail_settle_seconds,
            state_path=state_dir / f"{rail.value}.jsonl" if state_dir is not None else None,
        )
        for rail in RailName
    }


def mount_rail_sandboxes(app: FastAPI, sandboxes: dict[RailName, RailSandbox]) -> None:
    """Mount each rail's sandbox at ``/sandbox/rails/{rail}`` (the platform reaches them with
    ``HUAFEI_PAYOUT_RAIL_URL={base}/sandbox/rails``)."""
    for rail, sandbox in sandboxes.items():
        app.mount(f"{RAILS_PREFIX}/{rail.value}", sandbox.app())


def create_standalone_rails_app(
    settings: Settings, clock: Clock, *, state_dir: Path | None
) -> FastAPI:
    """The payout rails' sandboxes in an app of their own, with ``/healthz``."""
    app = FastAPI(title="Huafei payout rail sandboxes", docs_url=None, redoc_url=None)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    add_rail_sandboxes(app, settings, clock, state_dir=state_dir)
    return app


def add_rail_sandboxes(
    app: FastAPI, settings: Settings, clock: Clock, *, state_dir: Path | None
) -> dict[RailName, RailSandbox]:
    """Build the rails' sandboxes and mount them on ``app`` (another sandbox server's, say)."""
    sandboxes = build_rail_sandboxes(settings, clock, state_dir=state_dir)
    mount_rail_sandboxes(app, sandboxes)
    app.state.rail_sandboxes = sandboxes
    return sandboxes


async def _sleep(seconds: float) -> None:
    import anyio

    await anyio.sleep(seconds)
