"""The real-name + liveness provider's sandbox as an HTTP service (``HttpIdentityVerifier``'s
protocol), served by ``huafei sandbox serve`` at ``/sandbox/identity-provider``.

* ``POST /verifications`` (signed) — ``{"request_id", "real_name", "id_number",
  "selfie_token"}`` → ``{"request_id", "reference", "name_matches_id", "liveness_passed"}``,
  decided by the selfie token as ``SandboxIdentityVerifier`` decides; a
  ``sandbox-unavailable-…`` token answers ``503``. Idempotent on ``request_id``.
* ``POST /liveness`` (unsigned) — ``{"outcome": "pass"|"fail"|"name_mismatch"|"unavailable"}``
  → ``{"selfie_token"}``: what the provider's client SDK hands the seller's device after the
  selfie, here on request.

Test control: ``GET /control/verifications`` lists the checks answered (request id, reference
and verdicts; never a name or an ID number), ``POST /control/reset`` forgets them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Literal

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from huafei.core.clock import Clock
from huafei.core.provider_http import ProviderRefusal, SignedRequestReader
from huafei.identity.adapters import SandboxIdentityVerifier, sandbox_selfie_token
from huafei.identity.errors import IdentityProviderUnavailable

_MAX_BODY = 16 * 1024


class _VerifyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=64)
    real_name: str = Field(min_length=1, max_length=64, repr=False)
    id_number: str = Field(min_length=1, max_length=32, repr=False)
    selfie_token: str = Field(min_length=1, max_length=256)


class _LivenessBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["pass", "fail", "name_mismatch", "unavailable"] = "pass"


class IdentitySandbox:
    """Answers verifications by the selfie token; remembers answers by request id."""

    def __init__(self, secrets: Mapping[str, str], clock: Clock) -> None:
        self.clock = clock
        self.requests = SignedRequestReader(dict(secrets), clock, _MAX_BODY)
        self._verifier = SandboxIdentityVerifier()
        self._lock = threading.Lock()
        self._answers: dict[str, dict[str, Any]] = {}

    def verify(self, body: _VerifyBody) -> dict[str, Any] | None:
        """The answer, or None when the token says the provider is unavailable."""
        with self._lock:
            known = self._answers.get(body.request_id)
        if known is not None:
            return known
        try:
            result = self._verifier.verify(body.real_name, body.id_number, body.selfie_token)
        except IdentityProviderUnavailable:
            return None
        answer = {
            "request_id": body.request_id,
            "reference": result.reference,
            "name_matches_id": result.name_matches_id,
            "liveness_passed": result.liveness_passed,
        }
        with self._lock:
            return self._answers.setdefault(body.request_id, answer)

    def verifications(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._answers.values())

    def reset(self) -> None:
        with self._lock:
            self._answers.clear()


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def create_identity_sandbox_app(sandbox: IdentitySandbox) -> FastAPI:
    app = FastAPI(
        title="Identity provider sandbox",
        description="A real-name + liveness provider for development and tests.",
    )
    app.state.sandbox = sandbox

    @app.post("/verifications", summary="Name + ID against the register, selfie liveness")
    async def verify(request: Request) -> Response:
        try:
            parsed = sandbox.requests.read(_VerifyBody, await request.body(), request.headers)
        except ProviderRefusal as refused:
            return _error(refused.status, refused.code, refused.message)
        answer = sandbox.verify(parsed)
        if answer is None:
            return _error(503, "unavailable", "the register did not answer")
        return JSONResponse(answer)

    @app.post("/liveness", summary="A selfie token with the outcome asked for (the SDK's part)")
    async def liveness(request: Request) -> Response:
        try:
            parsed = _LivenessBody.model_validate_json(await request.body() or b"{}")
        except ValidationError:
            return _error(400, "invalid_request", "outcome: pass, fail, name_mismatch, unavailable")
        return JSONResponse({"selfie_token": sandbox_selfie_token(parsed.outcome)})

    @app.get("/control/verifications", summary="The checks answered so far (no personal data)")
    def verifications() -> list[dict[str, Any]]:
        return sandbox.verifications()

    @app.post("/control/reset", summary="Forget every check")
    def reset() -> dict[str, str]:
        sandbox.reset()
        return {"status": "reset"}

    return app
