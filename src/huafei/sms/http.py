"""``SmsSender`` over HTTP: the platform's client of an SMS provider (docs/identity.md).

``POST {HUAFEI_SMS_BASE_URL}/messages`` with ``{"request_id", "messages": [{"phone", "text"}]}``,
signed as ``core.provider_http`` describes; the provider answers ``{"request_id",
"accepted", "message_ids"}`` and is idempotent on ``request_id``. The sandbox in
``sms.sandbox_app`` speaks the same protocol (``huafei sandbox serve``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from huafei.core.provider_http import ProviderAdapter, ProviderFailed
from huafei.sms.errors import SmsUnavailable

MESSAGES_PATH = "/messages"
#: messages in one request at most (the usual providers' batch size)
BATCH_SIZE = 1000


class HttpSmsSender(ProviderAdapter):
    provider = "sms"

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
