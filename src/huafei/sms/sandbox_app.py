"""The SMS provider's sandbox as an HTTP service: the protocol ``sms.http`` speaks.

Served by ``huafei sandbox serve`` at ``/sandbox/sms-provider`` (a process of its own, like the
carrier sandboxes). It keeps what it "sent" in memory; nothing leaves the machine.

* ``POST /messages`` (signed) — ``{"request_id", "messages": [{"phone", "text"}]}`` →
  ``{"request_id", "accepted", "message_ids"}``; the same ``request_id`` answers the first
  answer again and sends nothing more.

Test control (unsigned; a sandbox only): ``GET /control/messages?phone=&limit=`` (newest first),
``PUT /control/switches`` (``{"fail_status": 503}`` makes every send fail, ``null`` clears it),
``POST /control/reset``.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from huafei.core.clock import Clock
from huafei.core.provider_http import ProviderRefusal, SignedRequestReader
from huafei.sms.http import BATCH_SIZE

_MAX_BODY = 1024 * 1024


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str = Field(pattern=r"^1[0-9]{10}$")
    text: str = Field(min_length=1, max_length=500)


class _SendBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=64)
    messages: list[_Message] = Field(min_length=1, max_length=BATCH_SIZE)


class _Switches(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fail_status: int | None = Field(default=None, ge=500, le=599)


@dataclass(frozen=True, slots=True)
class SentMessage:
    message_id: str
    phone: str
    text: str
    sent_at: str


class SmsSandbox:
    """An SMS provider that keeps its messages in memory, for development and tests."""

    def __init__(self, secrets: Mapping[str, str], clock: Clock) -> None:
        self.clock = clock
        self.requests = SignedRequestReader(dict(secrets), clock, _MAX_BODY)
        self.switches = _Switches()
        self._lock = threading.Lock()
        self._sequence = itertools.count(1)
        self._messages: list[SentMessage] = []
        self._answers: dict[str, dict[str, Any]] = {}

    def send(self, body: _SendBody) -> dict[str, Any]:
        with self._lock:
            answer = self._answers.get(body.request_id)
            if answer is not None:
                return answer
            sent_at = self.clock.now().isoformat()
            sent = [
                SentMessage(f"SMS{next(self._sequence):012d}", m.phone, m.text, sent_at)
                for m in body.messages
            ]
            self._messages.extend(sent)
            answer = {
                "request_id": body.request_id,
                "accepted": len(sent),
                "message_ids": [m.message_id for m in sent],
            }
            self._answers[body.request_id] = answer
            return answer

    def messages(self, phone: str | None = None, limit: int = 50) -> list[SentMessage]:
        with self._lock:
            chosen = [m for m in reversed(self._messages) if phone is None or m.phone == phone]
        return chosen[:limit]

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self._answers.clear()
            self.switches = _Switches()


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def create_sms_sandbox_app(sandbox: SmsSandbox) -> FastAPI:
    app = FastAPI(title="SMS provider sandbox", description="An SMS provider for tests.")
    app.state.sandbox = sandbox

    @app.post("/messages", summary="Send text messages (signed; idempotent on request_id)")
    async def send(request: Request) -> Response:
        if sandbox.switches.fail_status is not None:
            return _error(sandbox.switches.fail_status, "unavailable", "provider unavailable")
        try:
            parsed = sandbox.requests.read(_SendBody, await request.body(), request.headers)
        except ProviderRefusal as refused:
            return _error(refused.status, refused.code, refused.message)
        return JSONResponse(sandbox.send(parsed))

    @app.get("/control/messages", summary="What the sandbox sent, newest first")
    def messages(
        phone: Annotated[str | None, Query(max_length=11)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> list[dict[str, str]]:
        return [asdict(m) for m in sandbox.messages(phone, limit)]

    @app.put("/control/switches", summary="Make sends fail (fail_status) or clear it")
    async def put_switches(request: Request) -> Response:
        try:
            sandbox.switches = _Switches.model_validate_json(await request.body() or b"{}")
        except ValidationError:
            return _error(400, "invalid_request", "fail_status must be a 5xx or null")
        return JSONResponse(sandbox.switches.model_dump())

    @app.post("/control/reset", summary="Forget every message and switch")
    def reset() -> dict[str, str]:
        sandbox.reset()
        return {"status": "reset"}

    return app
