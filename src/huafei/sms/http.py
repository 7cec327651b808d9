"""``SmsSender`` over HTTP: the platform's client of an SMS provider (docs/identity.md).

``POST {HUAFEI_SMS_BASE_URL}/messages`` with ``{"request_id", "messages": [{"phone", "text"}]}``,
signed as ``core.provider_signing`` describes; the provider answers ``{"request_id",
"accepted", "message_ids"}`` and is idempotent on ``request_id``. The sandbox in
``sms.sandbox_app`` speaks the same protocol (``huafei sandbox serve``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from huafei.core.clock import Clock
from huafei.core.provider_http import ProviderFailed, SignedJsonClient
from huafei.sms.errors import SmsUnavailable

MESSAGES_PATH = "/messages"
#: messages in one request at most (the usual providers' batch size)
BATCH_SIZE = 1000


class HttpSmsSender:
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
            "sms",
            base_url=base_url,
            key_id=key_id,
            secret=secret,
            clock=clock,
            timeout_seconds=timeout_seconds,
        )

    def __repr__(self) -> str:
        return f"HttpSmsSender({self.client.base_url!r})"

    @property
    def base_url(self) -> str:
        return self.client.base_url

    def send(self, phone: str, text: str) -> None:
        self.send_many([(phone, text)])

    def send_many(self, messages: Sequence[tuple[str, str]]) -> None:
        for start in range(0, len(messages), BATCH_SIZE):
            chunk = messages[start : start + BATCH_SIZE]
            payload = {
                "request_id": uuid.uuid4().hex,
                "messages": [{"phone": phone, "text": text} for phone, text in chunk],
            }
            try:
                answer = self.client.post(MESSAGES_PATH, payload)
            except ProviderFailed as exc:
                raise SmsUnavailable(reason=exc.reason) from None
            if answer.get("accepted") != len(chunk):
                raise SmsUnavailable(reason="malformed")

    def close(self) -> None:
        self.client.close()
