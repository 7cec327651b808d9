"""``HttpRail``: the platform's side of a rail spoken over HTTP (the sandboxes speak it too).

Endpoints under the rail's base URL: ``POST /payouts``, ``GET /payouts/{payout_id}``,
``GET /statements/{YYYY-MM-DD}``; every request is signed like the callbacks (see ``base``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date

import httpx

from huafei.core.clock import Clock
from huafei.payouts.models import RailName
from huafei.payouts.rails.base import (
    BadRailSignature,
    PayoutAck,
    PayoutOrder,
    PayoutResult,
    RailError,
    RailTimeout,
    canonical_json,
    signed_headers,
    verify_signature,
)


class HttpRail:
    def __init__(
        self,
        name: RailName,
        *,
        base_url: str,
        secret: bytes,
        clock: Clock,
        timeout_seconds: float = 10.0,
        window_seconds: int = 300,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.clock = clock
        self.timeout = timeout_seconds
        self.window_seconds = window_seconds

    def _request(self, method: str, path: str, body: bytes = b"") -> httpx.Response:
        headers = signed_headers(self.secret, body, self.clock.now())
        headers["Content-Type"] = "application/json"
        try:
            response = httpx.request(
                method, self.base_url + path, content=body, headers=headers, timeout=self.timeout
            )
        except httpx.TimeoutException as exc:
            raise RailTimeout(f"{self.name} rail: {type(exc).__name__}", rail=self.name) from None
        except httpx.HTTPError as exc:
            raise RailError(f"{self.name} rail: {type(exc).__name__}", rail=self.name) from None
        if response.status_code >= 500:
            raise RailError(f"{self.name} rail answered {response.status_code}", rail=self.name)
        return response

    def submit(self, order: PayoutOrder) -> PayoutAck:
        response = self._request("POST", "/payouts", canonical_json(order.to_json()))
        if response.status_code != 200:
            raise RailError(
                f"{self.name} rail refused the request with {response.status_code}",
                rail=self.name,
            )
        data = response.json()
        return PayoutAck(
            accepted=bool(data["accepted"]),
            rail_ref=data.get("rail_ref"),
            code=data.get("code"),
            reason=data.get("reason"),
        )

    def query(self, payout_id: str) -> PayoutResult:
        response = self._request("GET", f"/payouts/{payout_id}")
        if response.status_code != 200:
            raise RailError(f"{self.name} rail query answered {response.status_code}")
        return PayoutResult.from_json(response.json())

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> PayoutResult:
        verify_signature(
            self.secret, headers, body, now=self.clock.now(), window_seconds=self.window_seconds
        )
        try:
            return PayoutResult.from_json(json.loads(body))
        except (ValueError, KeyError, TypeError):
            raise BadRailSignature("the callback body is not a payout result") from None

    def fetch_statement(self, day: date) -> bytes:
        response = self._request("GET", f"/statements/{day.isoformat()}")
        if response.status_code != 200:
            raise RailError(f"{self.name} rail statement answered {response.status_code}")
        return response.content
