"""RFC 9457 problem details for every error the API returns."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from huafei.core.db import is_retryable
from huafei.core.errors import HuafeiError

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"

#: The JSON schema of every problem document (``components/schemas/Problem`` in the OpenAPI).
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `code` is stable and machine-readable. Problems "
    "may carry more members naming what was wrong (e.g. `rejected`, `permission`).",
    "type": "object",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string", "examples": ["/problems/validation_failed"]},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "code": {"type": "string", "examples": ["validation_failed"]},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "422 `validation_failed`: each field that was refused",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                    "type": {
                        "type": "string",
                        "description": "why: e.g. `missing`, `less_than_equal`, "
                        "`control_character`, `non_ascii_digit`",
                    },
                },
            },
        },
    },
    "additionalProperties": True,
}

#: ``(request, status, code)`` → a page for a browser, or None to answer with a problem document
HtmlErrors = Callable[[Request, int, str], Response | None]


def problem_response(status: int, problem: dict[str, Any]) -> JSONResponse:
    """A problem document as a response (``application/problem+json``)."""
    return JSONResponse(problem, status_code=status, media_type=PROBLEM_JSON)


def _problem(
    request: Request, status: int, code: str, title: str, detail: str, **more: Any
) -> dict[str, Any]:
    return {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
        **more,
    }


def install_problem_handlers(app: FastAPI, html_errors: HtmlErrors | None = None) -> None:
    """Problem documents for every error; ``html_errors`` may answer a browser with a page
    instead (an unknown address, an error outside the portal's own page routes)."""
    handlers = _ProblemHandlers(html_errors)
    app.exception_handler(HuafeiError)(handlers.huafei)
    app.exception_handler(RequestValidationError)(handlers.validation)
    app.exception_handler(StarletteHTTPException)(handlers.http)
    app.exception_handler(Exception)(handlers.unexpected)


class _ProblemHandlers:
    def __init__(self, html_errors: HtmlErrors | None) -> None:
        self.html_errors = html_errors

    def page(self, request: Request, status: int, code: str) -> Response | None:
        return self.html_errors(request, status, code) if self.html_errors else None

    async def huafei(self, request: Request, exc: HuafeiError) -> Response:
        return self.page(request, exc.status, exc.code) or problem_response(
            exc.status, exc.to_problem(instance=request.url.path)
        )

    async def validation(self, request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": [str(part) for part in error.get("loc", ())],
                "msg": error.get("msg", ""),
                "type": error.get("type", ""),
            }
            for error in exc.errors()
        ]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)
        return problem_response(
            422,
            _problem(
                request,
                422,
                "validation_failed",
                "The request is not valid",
                detail,
                errors=errors,
            ),
        )

    async def http(self, request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, f"http_{exc.status_code}"
        )
        status, detail = exc.status_code, str(exc.detail)
        response = self.page(request, status, code) or problem_response(
            status, _problem(request, status, code, detail, detail)
        )
        # e.g. ``Allow`` on a 405: which methods the address does answer
        response.headers.update(exc.headers or {})
        return response

    async def unexpected(self, request: Request, exc: Exception) -> Response:
        if is_retryable(exc):
            # The database is restarting or too contended even after the unit of work's own
            # retries: nothing was committed, and the same request (its key) may come again.
            log.warning("database unavailable", extra={"path": request.url.path})
            response = self.page(request, 503, "database_unavailable") or problem_response(
                503,
                _problem(
                    request,
                    503,
                    "database_unavailable",
                    "Service unavailable",
                    "The database is not answering; nothing was done. Try again.",
                ),
            )
            response.headers["Retry-After"] = "2"
            return response
        log.error("unhandled error", exc_info=exc, extra={"path": request.url.path})
        return self.page(request, 500, "internal_error") or problem_response(
            500,
            _problem(
                request,
                500,
                "internal_error",
                "Internal error",
                "Something went wrong on our side; the request id identifies it.",
            ),
        )
