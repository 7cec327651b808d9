"""A signed JSON client for the platform's outside providers (SMS, real-name + liveness).

Each adapter (``sms.http``, ``identity.adapters``) wraps one and turns ``ProviderFailed`` into
its own typed error. Requests are signed as ``core.provider_signing`` describes; the client
never logs a body (they hold phone numbers, names and ID numbers).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx

from huafei.core import provider_signing
from huafei.core.clock import Clock

log = logging.getLogger(__name__)


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
        timestamp = int(self._clock.now().timestamp())
        headers = provider_signing.signed_headers(
            self._key_id, self._secret, body, timestamp=timestamp
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
