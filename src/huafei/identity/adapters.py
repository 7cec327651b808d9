"""External identity systems: the real-name and liveness provider, the service-password check.

Each is a Protocol; the sandboxes below are the development default (docs/identity.md).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Protocol

from huafei.carriers.sandbox_numbers import service_password_matches
from huafei.identity.errors import IdentityProviderUnavailable


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


class ServicePasswordChecker(Protocol):
    def check(self, phone: str, password: str) -> bool:
        """Whether ``password`` is the carrier service password (服务密码) of ``phone``."""
        ...


class SandboxServicePasswordChecker:
    """The carrier sandboxes' answer: only the documented test numbers have a service password."""

    def check(self, phone: str, password: str) -> bool:
        return service_password_matches(phone, password)
