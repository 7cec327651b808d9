"""Turning an idempotent outcome into an HTTP response."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from huafei.core.idempotency import IdempotentResponse
from huafei.web.problems import PROBLEM_JSON


def idempotent_response(outcome: IdempotentResponse) -> JSONResponse:
    is_problem = outcome.status_code >= 400
    response = JSONResponse(
        outcome.body,
        status_code=outcome.status_code,
        media_type=PROBLEM_JSON if is_problem else "application/json",
    )
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response
