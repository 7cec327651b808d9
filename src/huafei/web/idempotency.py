"""Money-moving requests run once per ``Idempotency-Key``: the ``Idempotent`` dependency.

A route takes ``idem: Idempotent`` (or a dependency of ``idempotent_with(max_length)`` where the
key is stored in a shorter column) and answers ``idem.respond(...)``: the work runs in the same
unit of work as the key's record (``core.idempotency.run_idempotent``), a retry with the same key
and body gets the first answer again (``Idempotent-Replayed: true``), the same key with another
body is a 409 problem. The header is declared by the dependency, so the OpenAPI document marks
it required on every route that takes one (``web.openapi``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from huafei.core.idempotency import (
    KEY_PATTERN,
    MAX_KEY_LENGTH,
    IdempotentResponse,
    run_idempotent,
)
from huafei.web.context import Platform, platform_of
from huafei.web.problems import PROBLEM_JSON

Work = Callable[[Session], tuple[int, Any]]


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


def json_fingerprint(value: Any) -> bytes:
    """A request body as the bytes its key is checked against (keys sorted: the same body in
    another order is the same request)."""
    return json.dumps(value, sort_keys=True, default=str).encode()


class Idempotency:
    """The key a request came with, and the way to run its work once."""

    __slots__ = ("key", "platform")

    def __init__(self, platform: Platform, key: str | None) -> None:
        self.platform = platform
        self.key = key

    def outcome(self, *, principal: str, path: str, body: bytes, work: Work) -> IdempotentResponse:
        """Run ``work`` (or replay its stored answer) under ``principal``'s key; ``body`` is the
        fingerprint of the request (a retry must send the same)."""
        return run_idempotent(
            self.platform.db,
            self.platform.clock,
            principal=principal,
            key=self.key,
            method="POST",
            path=path,
            body=body,
            handler=work,
        )

    def respond(self, *, principal: str, path: str, body: bytes, work: Work) -> JSONResponse:
        """``outcome`` as the HTTP answer (a problem document when the work was refused)."""
        return idempotent_response(
            self.outcome(principal=principal, path=path, body=body, work=work)
        )


def idempotent_with(max_length: int) -> Callable[..., Coroutine[Any, Any, Idempotency]]:
    """The dependency for keys of at most ``max_length`` characters."""

    # The header is declared in the default, where ``max_length`` is a value (an annotation
    # naming it would be a string FastAPI cannot resolve).
    async def idempotency(
        request: Request,
        key: str | None = Header(
            None, alias="Idempotency-Key", max_length=max_length, pattern=KEY_PATTERN
        ),
    ) -> Idempotency:
        return Idempotency(platform_of(request), key)

    return idempotency


Idempotent = Annotated[Idempotency, Depends(idempotent_with(MAX_KEY_LENGTH))]
