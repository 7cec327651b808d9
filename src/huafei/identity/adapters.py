"""External identity systems: the real-name and liveness provider, the service-password check.

Each is a Protocol with a real client and a sandbox; the container picks one from settings
(docs/identity.md): ``HttpIdentityVerifier`` speaks the identity provider's wire protocol,
``CarrierServicePasswordChecker`` asks the number's carrier channel. The sandboxes are the
development default.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from huafei.carriers.gateway import Carrier, CarrierGateway, GatewayError
from huafei.carriers.sandbox_numbers import service_password_matches
from huafei.core.provider_http import ProviderAdapter, ProviderFailed
from huafei.identity.errors import IdentityProviderUnavailable
from huafei.identity.validation import parse_mobile

log = logging.getLogger(__name__)

VERIFICATIONS_PATH = "/verifications"


@dataclass(frozen=True, slots=True)
class VerificationResult:
    name_matches_id: bool
    """The national register holds this ID number under this name (二要素)."""
    liveness_passed: bool
    """The selfie is of a live person and matches the ID photo."""
    reference: str
    """The provider's reference for this check, kept with the seller."""


class IdentityVerifier(Protocol):
    def verify(self, real_name: str, id_number: str, selfie_token: str) -> VerificationResult:
        """Check name + ID against the register and the liveness selfie against the ID photo.

        ``selfie_token`` is what the provider's client SDK returned after the liveness capture.
        Raises ``IdentityProviderUnavailable`` when the provider does not answer.
        """
        ...


#: Selfie tokens the sandbox understands, by their prefix (``POST /sandbox/liveness`` issues them).
SANDBOX_SELFIE_OUTCOMES = ("pass", "fail", "name_mismatch", "unavailable")


def sandbox_selfie_token(outcome: str) -> str:
    if outcome not in SANDBOX_SELFIE_OUTCOMES:
        raise ValueError(f"unknown sandbox liveness outcome {outcome!r}")
    return f"sandbox-{outcome}-{secrets.token_hex(8)}"


class SandboxIdentityVerifier:
    """Decides by the selfie token: ``sandbox-pass-…`` passes, ``sandbox-fail-…`` fails liveness,
    ``sandbox-name_mismatch-…`` says name and ID differ, ``sandbox-unavailable-…`` times out.
    Any other token fails liveness, as a real provider would for a token it never issued."""

    def verify(
        self,
        real_name: str,  # noqa: ARG002 - the sandbox decides by the token alone
        id_number: str,  # noqa: ARG002
        selfie_token: str,
    ) -> VerificationResult:
        reference = "sandbox-" + hashlib.sha256(selfie_token.encode()).hexdigest()[:16]
        if selfie_token.startswith("sandbox-unavailable-"):
            raise IdentityProviderUnavailable
        if selfie_token.startswith("sandbox-name_mismatch-"):
            return VerificationResult(
                name_matches_id=False, liveness_passed=True, reference=reference
            )
        if selfie_token.startswith("sandbox-pass-"):
            return VerificationResult(
                name_matches_id=True, liveness_passed=True, reference=reference
            )
        return VerificationResult(name_matches_id=True, liveness_passed=False, reference=reference)


class HttpIdentityVerifier(ProviderAdapter):
    """The real-name + liveness provider over HTTP (the identity sandbox speaks it too).

    ``POST {HUAFEI_IDENTITY_BASE_URL}/verifications`` with ``{"request_id", "real_name",
    "id_number", "selfie_token"}``, signed as ``core.provider_http`` describes; the answer is
    ``{"request_id", "reference", "name_matches_id", "liveness_passed"}``. No answer, a 5xx, a
    refused request or an unreadable answer is ``IdentityProviderUnavailable``: nothing is
    recorded and the seller may try again.
    """

    provider = "identity"

    def verify(self, real_name: str, id_number: str, selfie_token: str) -> VerificationResult:
        request_id = uuid.uuid4().hex
        try:
            answer = self.client.post(
                VERIFICATIONS_PATH,
                {
                    "request_id": request_id,
                    "real_name": real_name,
                    "id_number": id_number,
                    "selfie_token": selfie_token,
                },
            )
        except ProviderFailed:
            raise IdentityProviderUnavailable from None
        name_matches = answer.get("name_matches_id")
        liveness = answer.get("liveness_passed")
        reference = answer.get("reference")
        if (
            answer.get("request_id") != request_id
            or not isinstance(name_matches, bool)
            or not isinstance(liveness, bool)
            or not isinstance(reference, str)
            or not 0 < len(reference) <= 64
        ):
            log.warning("identity provider answer unreadable")
            raise IdentityProviderUnavailable
        return VerificationResult(
            name_matches_id=name_matches, liveness_passed=liveness, reference=reference
        )


class ServicePasswordChecker(Protocol):
    def check(self, phone: str, password: str) -> bool:
        """Whether ``password`` is the carrier service password (服务密码) of ``phone``."""
        ...


class SandboxServicePasswordChecker:
    """The carrier sandboxes' answer: only the documented test numbers have a service password."""

    def check(self, phone: str, password: str) -> bool:
        return service_password_matches(phone, password)


class CarrierServicePasswordChecker:
    """Asks the carrier channel of the number's segment (号段): ``POST
    /service-password/check`` of ``HttpCarrierGateway``. A channel that fails or does not
    answer is ``IdentityProviderUnavailable`` (nothing is recorded, the seller may retry)."""

    def __init__(self, carriers: Mapping[Carrier, CarrierGateway]) -> None:
        self.carriers = dict(carriers)

    def __repr__(self) -> str:
        return f"CarrierServicePasswordChecker({sorted(c.value for c in self.carriers)})"

    def check(self, phone: str, password: str) -> bool:
        carrier = parse_mobile(phone).carrier
        try:
            return self.carriers[carrier].check_service_password(phone, password)
        except GatewayError:
            raise IdentityProviderUnavailable(carrier=carrier.value) from None
