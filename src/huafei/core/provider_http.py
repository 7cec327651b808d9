"""The protocol of the platform's outside providers (SMS, real-name + liveness), both sides.

The platform POSTs signed JSON: the one signing scheme (``core.signing``, docs/signing.md) with a
key id, i.e. ``X-Huafei-Key`` (the platform's key id at the provider), ``X-Huafei-Timestamp``
(unix seconds) and ``X-Huafei-Signature``. The provider accepts a request when the key is known,
the signature matches and the timestamp is within 300 s of its clock; each body carries a
``request_id`` the provider is idempotent on, so a replay inside the window does nothing twice.

Each adapter (``sms.http``, ``identity.adapters``) is a ``ProviderAdapter`` and turns
``ProviderFailed`` into its own typed error; the sandboxes read requests with
``SignedRequestReader``. Neither side ever logs a body (they hold phone numbers, names and ID
numbers).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from huafei.core.clock import Clock
from huafei.core.settings import ProviderAccess
from huafei.core.signing import Secret, SigningScheme

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

PROVIDER_SIGNING = SigningScheme(
    key_header="X-Huafei-Key",
    timestamp_header="X-Huafei-Timestamp",
    signature_header="X-Huafei-Signature",
)


class ProviderFailed(Exception):
    """The provider did not give a usable answer: unreachable, timed out, refused, or garbled.

    ``reason`` is ``unreachable``, ``timeout``, ``refused`` (a 4xx: our request or our
    credentials are wrong), ``unavailable`` (a 5xx) or ``malformed``.
    """

    def __init__(self, provider: str, reason: str, *, http_status: int | None = None) -> None:
        self.provider = provider
        self.reason = reason
        self.http_status = http_status
        suffix = f" (HTTP {http_status})" if http_status else ""
        super().__init__(f"{provider}: {reason}{suffix}")


class SignedJsonClient:
    """POSTs signed JSON to ``{base_url}{path}``; thread-safe, keeps connections alive."""

    def __init__(
        self,
        provider: str,
        *,
        base_url: str,
        key_id: str,
        secret: str,
        clock: Clock,
        timeout_seconds: float,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._key_id = key_id
        self._secret = secret
        self._clock = clock
        self._http = httpx.Client(timeout=timeout_seconds)

    def __repr__(self) -> str:
        return f"SignedJsonClient({self.provider!r}, {self.base_url!r})"

    def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = PROVIDER_SIGNING.signed_headers(
            self._secret, body, timestamp=self._clock.now(), key_id=self._key_id
        )
        headers["Content-Type"] = "application/json"
        try:
            response = self._http.post(self.base_url + path, content=body, headers=headers)
        except httpx.TimeoutException:
            raise self._failed("timeout") from None
        except httpx.HTTPError:
            raise self._failed("unreachable") from None
        if response.status_code >= 500:
            raise self._failed("unavailable", response.status_code)
        if response.status_code != 200:
            # A 4xx is a fault of ours (credentials, a field the provider refuses): say so loudly.
            log.error(
                "provider refused the request",
                extra={"provider": self.provider, "http_status": response.status_code},
            )
            raise self._failed("refused", response.status_code)
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise self._failed("malformed", response.status_code)
        return data

    def close(self) -> None:
        self._http.close()

    def _failed(self, reason: str, http_status: int | None = None) -> ProviderFailed:
        log.warning(
            "provider call failed",
            extra={"provider": self.provider, "reason": reason, "http_status": http_status},
        )
        return ProviderFailed(self.provider, reason, http_status=http_status)


class ProviderAdapter:
    """The base of an adapter that speaks to one provider through a ``SignedJsonClient``."""

    #: the provider's name in logs and errors (``sms``, ``identity``)
    provider: ClassVar[str]

    def __init__(
        self,
        base_url: str,
        *,
        key_id: str,
        secret: str,
        clock: Clock,
        timeout_seconds: float = 10.0,
    ) -> None:
        self.client = SignedJsonClient(
            self.provider,
            base_url=base_url,
            key_id=key_id,
            secret=secret,
            clock=clock,
            timeout_seconds=timeout_seconds,
        )

    @classmethod
    def reaching(cls, access: ProviderAccess, clock: Clock) -> Self:
        """The adapter of the provider ``access`` describes (``Settings.provider``)."""
        return cls(
            access.url,
            key_id=access.key_id,
            secret=access.secret,
            clock=clock,
            timeout_seconds=access.timeout_seconds,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.client.base_url!r})"

    @property
    def base_url(self) -> str:
        return self.client.base_url

    def close(self) -> None:
        self.client.close()


class ProviderRefusal(Exception):
    """Why a provider (a sandbox) refuses a request: the HTTP status and the answer's fields."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"{status} {code}: {message}")


@dataclass(frozen=True, slots=True)
class SignedRequestReader:
    """The provider's side (the sandboxes): a request's body, if signed, fresh and valid."""

    #: the secrets of the callers' key ids
    secrets: Mapping[str, Secret]
    clock: Clock
    max_body: int

    def read(self, model: type[M], body: bytes, headers: Mapping[str, str]) -> M:
        """The body as ``model``; ``ProviderRefusal`` when too large, unsigned or invalid."""
        if len(body) > self.max_body:
            raise ProviderRefusal(413, "too_large", "request too large")
        if PROVIDER_SIGNING.refusal(self.secrets, headers, body, now=self.clock.now()) is not None:
            raise ProviderRefusal(401, "bad_signature", "key, signature or timestamp not valid")
        try:
            return model.model_validate_json(body)
        except ValidationError as exc:
            # Field names only: never echo a value (a name, an ID number, a sign-in code).
            fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
            raise ProviderRefusal(
                400, "invalid_request", "invalid fields: " + ", ".join(fields)
            ) from None
