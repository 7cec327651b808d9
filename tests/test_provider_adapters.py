"""The real clients of the SMS provider, the identity provider and the carrier service-password
check, against the sandboxes served as a process of their own (`huafei sandbox serve`), and the
platform wired to them with its own sandboxes off."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from factories import make_id_number
from huafei.carriers.gateway import Carrier
from huafei.carriers.http import HttpCarrierGateway
from huafei.core.clock import SystemClock
from huafei.core.provider_http import SignedJsonClient
from huafei.core.settings import DEV_IDENTITY_API_SECRET, DEV_SMS_API_SECRET
from huafei.identity.adapters import CarrierServicePasswordChecker, HttpIdentityVerifier
from huafei.identity.errors import IdentityProviderUnavailable
from huafei.sms.errors import SmsUnavailable
from huafei.sms.http import HttpSmsSender
from huafei.sms.sender import SmsSender
from live import huafei_server, reserved_port, serve_live

SMS_KEY, SMS_SECRET = "huafei-test", "sms-test-secret-0001"
ID_KEY, ID_SECRET = "huafei-test", "identity-test-secret-0002"


@pytest.fixture(scope="module")
def sandbox_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`huafei sandbox serve` on a port of its own, with this module's provider credentials."""
    env = {
        "HUAFEI_LOG_LEVEL": "WARNING",
        "HUAFEI_SMS_API_KEY": SMS_KEY,
        "HUAFEI_SMS_API_SECRET": SMS_SECRET,
        "HUAFEI_IDENTITY_API_KEY": ID_KEY,
        "HUAFEI_IDENTITY_API_SECRET": ID_SECRET,
    }
    log: Path = tmp_path_factory.mktemp("sandbox") / "sandbox.log"
    with (
        reserved_port() as port,
        huafei_server(
            "sandbox", "serve", "--port", str(port), port=port, env=env, log=log, clean=True
        ),
    ):
        yield f"http://127.0.0.1:{port}"


def _sms(base: str, *, key: str = SMS_KEY, secret: str = SMS_SECRET) -> HttpSmsSender:
    return HttpSmsSender(
        f"{base}/sandbox/sms-provider", key_id=key, secret=secret, clock=SystemClock()
    )


def _identity(base: str, *, key: str = ID_KEY, secret: str = ID_SECRET) -> HttpIdentityVerifier:
    return HttpIdentityVerifier(
        f"{base}/sandbox/identity-provider", key_id=key, secret=secret, clock=SystemClock()
    )


def _sent(base: str, phone: str) -> list[dict[str, str]]:
    answer = httpx.get(
        f"{base}/sandbox/sms-provider/control/messages", params={"phone": phone}, timeout=5
    )
    return answer.json()  # type: ignore[no-any-return]


def _selfie(base: str, outcome: str) -> str:
    answer = httpx.post(
        f"{base}/sandbox/identity-provider/liveness", json={"outcome": outcome}, timeout=5
    )
    return str(answer.json()["selfie_token"])


_numbers = iter(range(10**6))


def _phone() -> str:
    return f"1390{os.getpid() % 1000:03d}{next(_numbers):04d}"


class TestHttpSmsSender:
    def test_messages_reach_the_provider_in_one_request(self, sandbox_url: str) -> None:
        sender: SmsSender = _sms(sandbox_url)
        first, second = _phone(), _phone()
        sender.send_many([(first, "您的验证码 123456"), (second, "提现已到账")])
        sender.send(first, "second text")
        assert [m["text"] for m in _sent(sandbox_url, first)] == [
            "second text",
            "您的验证码 123456",
        ]
        assert [m["text"] for m in _sent(sandbox_url, second)] == ["提现已到账"]

    def test_the_provider_is_idempotent_on_the_request_id(self, sandbox_url: str) -> None:
        client = SignedJsonClient(
            "sms",
            base_url=f"{sandbox_url}/sandbox/sms-provider",
            key_id=SMS_KEY,
            secret=SMS_SECRET,
            clock=SystemClock(),
            timeout_seconds=5,
        )
        phone = _phone()
        body = {"request_id": f"r-{phone}", "messages": [{"phone": phone, "text": "once"}]}
        assert client.post("/messages", body) == client.post("/messages", body)
        assert len(_sent(sandbox_url, phone)) == 1

    def test_wrong_credentials_send_nothing(self, sandbox_url: str) -> None:
        phone = _phone()
        for sender in (_sms(sandbox_url, secret=DEV_SMS_API_SECRET), _sms(sandbox_url, key="x")):
            with pytest.raises(SmsUnavailable) as refused:
                sender.send(phone, "never")
            assert refused.value.extra == {"reason": "refused"}
            assert refused.value.status == 503
        assert _sent(sandbox_url, phone) == []

    def test_a_failing_provider_is_a_typed_error(self, sandbox_url: str) -> None:
        switches = f"{sandbox_url}/sandbox/sms-provider/control/switches"
        httpx.put(switches, json={"fail_status": 503}, timeout=5).raise_for_status()
        try:
            with pytest.raises(SmsUnavailable) as failed:
                _sms(sandbox_url).send(_phone(), "down")
            assert failed.value.extra == {"reason": "unavailable"}
        finally:
            httpx.put(switches, json={"fail_status": None}, timeout=5).raise_for_status()

    def test_an_unreachable_provider_is_a_typed_error(self) -> None:
        with reserved_port() as port, pytest.raises(SmsUnavailable) as failed:
            _sms(f"http://127.0.0.1:{port}").send(_phone(), "nobody there")
        assert failed.value.extra == {"reason": "unreachable"}


class TestHttpIdentityVerifier:
    @pytest.mark.parametrize(
        ("outcome", "name_matches", "live"),
        [("pass", True, True), ("fail", True, False), ("name_mismatch", False, True)],
    )
    def test_the_verdicts(self, sandbox_url: str, outcome: str, name_matches, live) -> None:
        result = _identity(sandbox_url).verify(
            "韩梅梅", make_id_number(), _selfie(sandbox_url, outcome)
        )
        assert (result.name_matches_id, result.liveness_passed) == (name_matches, live)
        assert result.reference.startswith("sandbox-")

    def test_a_token_the_provider_never_issued_fails_liveness(self, sandbox_url: str) -> None:
        result = _identity(sandbox_url).verify("韩梅梅", make_id_number(), "made-up-token")
        assert result.liveness_passed is False

    def test_an_unavailable_register_is_a_typed_error(self, sandbox_url: str) -> None:
        with pytest.raises(IdentityProviderUnavailable):
            _identity(sandbox_url).verify(
                "韩梅梅", make_id_number(), _selfie(sandbox_url, "unavailable")
            )

    def test_wrong_credentials_are_refused_and_nothing_is_checked(self, sandbox_url: str) -> None:
        checks = f"{sandbox_url}/sandbox/identity-provider/control/verifications"
        before = len(httpx.get(checks, timeout=5).json())
        for verifier in (
            _identity(sandbox_url, secret=DEV_IDENTITY_API_SECRET),
            _identity(sandbox_url, key="someone-else"),
        ):
            with pytest.raises(IdentityProviderUnavailable):
                verifier.verify("韩梅梅", make_id_number(), _selfie(sandbox_url, "pass"))
        assert len(httpx.get(checks, timeout=5).json()) == before

    def test_no_personal_data_in_the_providers_records(self, sandbox_url: str) -> None:
        id_number = make_id_number()
        _identity(sandbox_url).verify("韩梅梅", id_number, _selfie(sandbox_url, "pass"))
        records = httpx.get(
            f"{sandbox_url}/sandbox/identity-provider/control/verifications", timeout=5
        ).text
        assert id_number not in records
        assert "韩梅梅" not in records


class TestCarrierServicePasswordChecker:
    def _checker(self, base: str) -> CarrierServicePasswordChecker:
        return CarrierServicePasswordChecker(
            {
                carrier: HttpCarrierGateway(
                    carrier,
                    f"{base}/sandbox/carriers/{carrier.value}",
                    f"sandbox-{carrier.value}-secret",
                    5.0,
                    clock=SystemClock(),
                )
                for carrier in Carrier
            }
        )

    def test_asks_the_channel_of_the_numbers_segment(self, sandbox_url: str) -> None:
        checker = self._checker(sandbox_url)
        # Each carrier's sandbox knows only its own numbers: a wrong route answers False.
        assert checker.check("13800138000", "138000") is True  # China Mobile
        assert checker.check("18600186000", "186000") is True  # China Unicom
        assert checker.check("18900189000", "189000") is True  # China Telecom
        assert checker.check("18900189000", "138000") is False

    def test_a_failing_channel_is_a_typed_error(self, sandbox_url: str) -> None:
        switches = f"{sandbox_url}/sandbox/carriers/ctcc/control/switches"
        httpx.put(switches, json={"fail_status": 502}, timeout=5).raise_for_status()
        try:
            with pytest.raises(IdentityProviderUnavailable) as failed:
                self._checker(sandbox_url).check("18900189000", "189000")
            assert failed.value.extra == {"carrier": "ctcc"}
        finally:
            httpx.put(switches, json={"fail_status": None}, timeout=5).raise_for_status()


def test_the_platform_without_sandboxes_uses_the_real_clients(sandbox_url: str, db) -> None:
    """Sign-in code by the SMS provider, L2 by the identity provider, L3 by the carrier
    channel: all over HTTP to the sandbox process, none mounted in the platform."""
    with serve_live(
        db,
        SystemClock(),
        sandboxes=False,
        carrier_base_url=f"{sandbox_url}/sandbox/carriers",
        payout_rail_url="http://127.0.0.1:9/rails",  # not reached in this story
        sms_base_url=f"{sandbox_url}/sandbox/sms-provider",
        sms_api_key=SMS_KEY,
        sms_api_secret=SMS_SECRET,
        identity_base_url=f"{sandbox_url}/sandbox/identity-provider",
        identity_api_key=ID_KEY,
        identity_api_secret=ID_SECRET,
    ) as live:
        http = httpx.Client(base_url=live.url, timeout=10)
        assert http.get("/sandbox/sms").status_code == 404
        assert http.post("/sandbox/liveness", json={}).status_code == 404
        phone = "13800138000"
        assert http.post("/api/v1/auth/sms-codes", json={"phone": phone}).status_code == 202
        text = _sent(sandbox_url, phone)[0]["text"]
        code = re.search(r"\d{6}", text)
        assert code
        signed_in = http.post(
            "/api/v1/auth/sign-in/sms",
            json={"phone": phone, "code": code.group(), "session": "bearer"},
        )
        assert signed_in.status_code == 200, signed_in.text
        me = {"Authorization": f"Bearer {signed_in.json()['token']}"}
        checks = f"{sandbox_url}/sandbox/identity-provider/control/verifications"
        checked_before = len(httpx.get(checks, timeout=5).json())
        claim = {"real_name": "韩梅梅", "id_number": make_id_number()}
        failed = http.post(
            "/api/v1/me/kyc/real-name",
            headers=me,
            json={**claim, "selfie_token": _selfie(sandbox_url, "fail")},
        )
        assert failed.status_code == 422
        assert failed.json()["code"] == "liveness_failed"
        l2 = http.post(
            "/api/v1/me/kyc/real-name",
            headers=me,
            json={**claim, "selfie_token": _selfie(sandbox_url, "pass")},
        )
        assert l2.status_code == 200, l2.text
        assert l2.json()["tier"] == 2
        assert len(httpx.get(checks, timeout=5).json()) == checked_before + 2
        wrong = http.post(
            "/api/v1/me/kyc/service-password", headers=me, json={"service_password": "000000"}
        )
        assert wrong.status_code == 422
        assert wrong.json()["code"] == "service_password_wrong"
        l3 = http.post(
            "/api/v1/me/kyc/service-password", headers=me, json={"service_password": "138000"}
        )
        assert l3.status_code == 200, l3.text
        assert l3.json()["tier"] == 3
