"""The published OpenAPI, made to say what the API does.

FastAPI's generated document knows the shapes of requests and successful answers. This adds:

* the **security schemes** — seller and staff sessions (a bearer token, or the HttpOnly cookie
  with ``X-CSRF-Token`` on unsafe methods) and partner API keys (``X-API-Key``) — and which one
  each operation takes, read from the authentication dependency the route declares
  (``identity.deps``);
* the **problem responses**: one shared ``Problem`` schema (RFC 9457, ``application/problem+json``)
  for 401/403 on authenticated operations, 404 where a path names a row, 409 and 400 on
  idempotent operations, 413 where a body is read, 422 everywhere (FastAPI's own 422 schema is
  replaced: we answer problems), those a route declares (``responses={429: {}}``), and
  ``default`` for the rest;
* ``Idempotency-Key`` **required** where it is (a request without one is refused with 400);
* integer bounds as integers: FastAPI's document model stores ``maximum`` as a float, which
  rounds 2⁶³−1 up to 2⁶³.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from huafei.core.idempotency import KEY_PATTERN, MAX_KEY_LENGTH
from huafei.core.types import MAX_INT64
from huafei.identity import deps as identity_deps
from huafei.identity.deps import API_KEY_HEADER, CSRF_HEADER, SELLER_COOKIE, STAFF_COOKIE
from huafei.web.problems import PROBLEM_JSON, PROBLEM_SCHEMA

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
IDEMPOTENCY_HEADER = "Idempotency-Key"

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearerSession": {
        "type": "http",
        "scheme": "bearer",
        "description": "A session token from seller sign-in (`session: bearer`) or staff "
        "sign-in, as `Authorization: Bearer …`. No CSRF token needed.",
    },
    "sellerCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": SELLER_COOKIE,
        "description": f"A seller's browser session (`session: cookie`); unsafe methods also "
        f"send the `{CSRF_HEADER}` header with the sign-in answer's `csrf_token`.",
    },
    "staffCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": STAFF_COOKIE,
        "description": f"A staff member's browser session; unsafe methods also send the "
        f"`{CSRF_HEADER}` header.",
    },
    "partnerKey": {
        "type": "apiKey",
        "in": "header",
        "name": API_KEY_HEADER,
        "description": "A partner API key issued by operations; its scopes decide the routes.",
    },
}
_SECURITY_OF: dict[str, list[dict[str, list[str]]]] = {
    "seller": [{"bearerSession": []}, {"sellerCookie": []}],
    "staff": [{"bearerSession": []}, {"staffCookie": []}],
    "partner": [{"partnerKey": []}],
}

PROBLEM_DESCRIPTIONS = {
    400: "The `Idempotency-Key` header is missing (`idempotency_key_required`)",
    401: "Not signed in: no credential, or an unknown, expired or ended one",
    403: "Signed in, but not allowed: another kind of account, a role without the permission, "
    "a key without the scope, or a failed CSRF check",
    404: "No such row, or not the caller's",
    409: "The request conflicts with the current state, or its `Idempotency-Key` was used for "
    "another request",
    413: "The request body is larger than the limit (`body_too_large`)",
    422: "The request is not valid (`validation_failed` lists each field) or breaks a "
    "business rule",
    429: "Too many attempts or requests: wait and try again",
}
_UNSAFE = frozenset({"post", "put", "patch", "delete"})


#: authentication dependencies → who they let in (compared by identity: a dependency may be an
#: unhashable object)
_PRINCIPALS: tuple[tuple[Callable[..., Any], str], ...] = (
    (identity_deps.current_seller, "seller"),
    (identity_deps.current_staff, "staff"),
    (identity_deps.current_partner, "partner"),
    (identity_deps.current_partner_caller, "partner"),
)
#: dependencies made by a factory (``require_permission("…")``), by the factory's name
_PRINCIPAL_FACTORIES = (("require_permission.", "staff"), ("require_scope.", "partner"))


def _principal(call: Callable[..., Any] | None) -> str | None:
    if call is None:
        return None
    for known, who in _PRINCIPALS:
        if call is known:
            return who
    qualname = getattr(call, "__qualname__", "")
    return next((who for prefix, who in _PRINCIPAL_FACTORIES if qualname.startswith(prefix)), None)


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any] | None]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def principal_of(route: APIRoute | RouteContext) -> str | None:
    """Who an operation is for: ``seller``, ``staff``, ``partner``, or None (anyone)."""
    for call in _calls(route.dependant):
        found = _principal(call)
        if found:
            return found
    return None


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    return {
        "description": description or PROBLEM_DESCRIPTIONS.get(status, "A problem"),
        "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
    }


def _integral_bounds(node: Any) -> None:
    """``maximum: 9.223372036854776e18`` → ``9223372036854775807`` (and 1.0 → 1)."""
    if isinstance(node, dict):
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            value = node.get(key)
            if isinstance(value, float) and value.is_integer():
                node[key] = MAX_INT64 if value >= MAX_INT64 else int(value)
        for child in node.values():
            _integral_bounds(child)
    elif isinstance(node, list):
        for child in node:
            _integral_bounds(child)


def _max_length(schema: dict[str, Any]) -> int | None:
    """The ``maxLength`` of a string schema, also when FastAPI wrapped it as optional."""
    for option in [schema, *schema.get("anyOf", [])]:
        if isinstance(option.get("maxLength"), int):
            return int(option["maxLength"])
    return None


def _operation(document: dict[str, Any], route: RouteContext, method: str) -> dict[str, Any] | None:
    path_item = document.get("paths", {}).get(route.path_format)
    if not path_item:
        return None
    operation: dict[str, Any] | None = path_item.get(method)
    return operation


def _describe(operation: dict[str, Any], route: RouteContext, method: str) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    principal = principal_of(route)
    statuses: set[int] = set()
    if operation.get("parameters") or route.dependant.body_params:
        statuses.add(422)
    if principal:
        operation["security"] = _SECURITY_OF[principal]
        statuses |= {401, 403}
    if route.dependant.path_params:
        statuses.add(404)
    if route.dependant.body_params or method in _UNSAFE:
        statuses.add(413)
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "header" and parameter.get("name") == IDEMPOTENCY_HEADER:
            parameter["required"] = True
            parameter["schema"] = {
                "type": "string",
                "minLength": 1,
                "maxLength": _max_length(parameter.get("schema", {})) or MAX_KEY_LENGTH,
                "pattern": KEY_PATTERN,
            }
            parameter["description"] = (
                "Unique per request: a retry with the same key and body gets the first answer "
                "again (`Idempotent-Replayed: true`); the same key with another body is a 409."
            )
            statuses |= {400, 409}
    # A route declares the problems beyond these as ``responses={429: {}}``: every error
    # response is a problem document, described here unless the route says more.
    statuses |= {int(key) for key in responses if key.isdigit() and int(key) >= 400}
    for status in sorted(statuses):
        declared = responses.get(str(status), {}).get("description", "")
        generic = not declared or declared == HTTPStatus(status).phrase or status == 422
        responses[str(status)] = problem_response(status, None if generic else declared)
    responses.setdefault("default", problem_response(0, "Any other problem"))


def build_openapi(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    # FastAPI's own validation-error shapes: every 422 is a Problem here.
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    components["securitySchemes"] = SECURITY_SCHEMES
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for method in sorted(route.methods or ()):
            operation = _operation(document, route, method.lower())
            if operation is not None:
                _describe(operation, route, method.lower())
    metrics = document.get("paths", {}).get("/metrics", {}).get("get")
    if metrics is not None:  # Prometheus' text format, not JSON
        metrics["responses"]["200"]["content"] = {"text/plain": {"schema": {"type": "string"}}}
    _integral_bounds(document)
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve ``build_openapi``'s document at ``/openapi.json`` (built once, on first use)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
