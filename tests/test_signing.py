"""The one request-signing scheme (docs/signing.md), checked against the documented format."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huafei.core.signing import MISMATCH, MISSING, STALE, UNKNOWN_KEY, SigningScheme

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
T = int(NOW.timestamp())
PLAIN = SigningScheme(timestamp_header="X-T", signature_header="X-S")
KEYED = SigningScheme(timestamp_header="X-T", signature_header="X-S", key_header="X-K")
BODY = b'{"id":"n-1","amount_fen":100}'


def documented(secret: bytes, timestamp: int, body: bytes) -> str:
    """hex HMAC-SHA256 of "{timestamp}.{raw body}", computed here without the scheme."""
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def rejection(scheme: SigningScheme, secrets: object, headers: dict[str, str]) -> str | None:
    return scheme.refusal(secrets, headers, BODY, now=NOW)  # type: ignore[arg-type]


class TestSigning:
    def test_headers_carry_the_documented_signature(self) -> None:
        headers = PLAIN.signed_headers("s3cret", BODY, timestamp=NOW)
        assert headers == {"X-T": str(T), "X-S": documented(b"s3cret", T, BODY)}

    def test_text_and_bytes_secrets_sign_alike(self) -> None:
        assert PLAIN.sign("s3cret", T, BODY) == PLAIN.sign(b"s3cret", T, BODY)

    def test_a_keyed_scheme_names_the_key_and_needs_one(self) -> None:
        headers = KEYED.signed_headers("s3cret", BODY, timestamp=T, key_id="platform")
        assert headers["X-K"] == "platform"
        with pytest.raises(TypeError):
            KEYED.signed_headers("s3cret", BODY, timestamp=T)


class TestChecking:
    @pytest.mark.parametrize("skew", [-300, -1, 0, 1, 300])
    def test_accepted_within_the_window(self, skew: int) -> None:
        headers = PLAIN.signed_headers("s3cret", BODY, timestamp=T + skew)
        assert PLAIN.refusal("s3cret", headers, BODY, now=NOW) is None

    @pytest.mark.parametrize("skew", [-301, 301, -86_400])
    def test_a_replay_outside_the_window_is_refused(self, skew: int) -> None:
        headers = PLAIN.signed_headers("s3cret", BODY, timestamp=T + skew)
        assert rejection(PLAIN, "s3cret", headers) == STALE

    def test_a_receiver_may_narrow_the_window(self) -> None:
        headers = PLAIN.signed_headers("s3cret", BODY, timestamp=T - 61)
        assert PLAIN.refusal("s3cret", headers, BODY, now=NOW, window_seconds=60) == STALE

    def test_header_names_in_any_case_and_hex_in_either_case(self) -> None:
        headers = {"x-t": str(T), "x-s": documented(b"s3cret", T, BODY).upper()}
        assert rejection(PLAIN, "s3cret", headers) is None

    def test_another_secret_or_body_does_not_match(self) -> None:
        headers = PLAIN.signed_headers("s3cret", BODY, timestamp=T)
        assert rejection(PLAIN, "guess", headers) == MISMATCH
        assert PLAIN.refusal("s3cret", headers, BODY + b" ", now=NOW) == MISMATCH

    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"X-T": str(T)},
            {"X-S": "00"},
            {"X-T": "", "X-S": "00"},
            {"X-T": "١٢٣", "X-S": "00"},  # other scripts' digits
            {"X-T": "²", "X-S": "00"},
            {"X-T": "-1", "X-S": "00"},
            {"X-T": "9" * 13, "X-S": "00"},
        ],
    )
    def test_missing_or_malformed_headers_are_refused(self, headers: dict[str, str]) -> None:
        assert rejection(PLAIN, "s3cret", headers) == MISSING

    def test_a_keyed_scheme_looks_the_secret_up_by_key_id(self) -> None:
        secrets = {"a": "secret-a", "b": "secret-b"}
        headers = KEYED.signed_headers("secret-b", BODY, timestamp=T, key_id="b")
        assert rejection(KEYED, secrets, headers) is None
        assert rejection(KEYED, secrets, {**headers, "X-K": "a"}) == MISMATCH
        assert rejection(KEYED, secrets, {**headers, "X-K": "c"}) == UNKNOWN_KEY
        without_key = {k: v for k, v in headers.items() if k != "X-K"}
        assert rejection(KEYED, secrets, without_key) == UNKNOWN_KEY

    @given(body=st.binary(max_size=256), secret=st.binary(min_size=1, max_size=64))
    def test_what_is_signed_is_accepted_and_any_change_is_not(
        self, body: bytes, secret: bytes
    ) -> None:
        headers = PLAIN.signed_headers(secret, body, timestamp=T)
        assert PLAIN.refusal(secret, headers, body, now=NOW) is None
        assert PLAIN.refusal(secret, headers, body + b"x", now=NOW) == MISMATCH
