"""Typed identity errors; every code is stable and listed in docs/identity.md."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from huafei.core.errors import HuafeiError


class IdentityError(HuafeiError):
    code = "identity_error"
    status = 400
    title = "The identity request failed"


# -- input ----------------------------------------------------------------------------------------
class InvalidPhoneNumber(IdentityError):
    code = "invalid_phone_number"
    status = 422
    title = "Not a mainland China mobile number"


class UnsupportedCarrier(IdentityError):
    code = "unsupported_carrier"
    status = 422
    title = "The number belongs to a carrier the platform does not serve"


class WeakPassword(IdentityError):
    code = "weak_password"
    status = 422
    title = "The password does not meet the rules"


class InvalidRealName(IdentityError):
    code = "invalid_real_name"
    status = 422
    title = "Not a valid real name"


class InvalidIdNumber(IdentityError):
    code = "invalid_id_number"
    status = 422
    title = "Not a valid mainland resident ID number"


class IdCheckDigitMismatch(InvalidIdNumber):
    code = "id_check_digit_mismatch"
    title = "The ID number's check digit is wrong"


class IdBirthDateInvalid(InvalidIdNumber):
    code = "id_birth_date_invalid"
    title = "The ID number's date of birth is not a real past date"


class SellerIsMinor(IdentityError):
    code = "seller_is_minor"
    status = 422
    title = "Sellers must be at least 18 years old"


class InvalidUsername(IdentityError):
    code = "invalid_username"
    status = 422
    title = "Usernames are 3 to 32 lowercase letters, digits, dots, dashes or underscores"


class UnknownRole(IdentityError):
    code = "unknown_role"
    status = 422
    title = "Unknown staff role"


class UnknownScope(IdentityError):
    code = "unknown_scope"
    status = 422
    title = "Unknown API key scope"


# -- SMS codes ------------------------------------------------------------------------------------
class SmsResendTooSoon(IdentityError):
    code = "sms_resend_too_soon"
    status = 429
    title = "A code was sent moments ago; wait before asking for another"


class SmsRateLimited(IdentityError):
    code = "sms_rate_limited"
    status = 429
    title = "Too many codes requested; try again later"


class SmsCodeNotRequested(IdentityError):
    code = "sms_code_not_requested"
    status = 401
    title = "No code is waiting for this number; request a new one"


class SmsCodeExpired(IdentityError):
    code = "sms_code_expired"
    status = 401
    title = "The code has expired; request a new one"


class SmsCodeWrong(IdentityError):
    code = "sms_code_wrong"
    status = 401
    title = "The code is not right"


class SmsCodeAttemptsExhausted(IdentityError):
    code = "sms_code_attempts_exhausted"
    status = 401
    title = "Too many wrong tries for this code; request a new one"


# -- sign-in, sessions, keys ---------------------------------------------------------------------
class InvalidCredentials(IdentityError):
    code = "invalid_credentials"
    status = 401
    title = "The sign-in details are not right"


class LockedOut(IdentityError):
    code = "locked_out"
    status = 429
    title = "Too many failed attempts; locked for a while"


class TooManyRequests(IdentityError):
    code = "rate_limited"
    status = 429
    title = "Too many requests from this address; try again later"


class CurrentPasswordWrong(IdentityError):
    code = "current_password_wrong"
    status = 422
    title = "The current password is not right"


class NotAuthenticated(IdentityError):
    code = "not_authenticated"
    status = 401
    title = "Sign in first"


class SessionExpired(NotAuthenticated):
    code = "session_expired"
    title = "The session has ended; sign in again"


class InvalidApiKey(NotAuthenticated):
    code = "invalid_api_key"
    title = "The API key is not valid"


class Forbidden(IdentityError):
    code = "forbidden"
    status = 403
    title = "Not allowed for this kind of account"


class PermissionDenied(Forbidden):
    code = "permission_denied"
    title = "Your role does not allow this"


class ScopeMissing(Forbidden):
    code = "api_key_scope_missing"
    title = "The API key does not carry the scope this needs"


class CsrfFailed(Forbidden):
    code = "csrf_failed"
    title = "The X-CSRF-Token header is missing or does not match the session"


class SessionNotFound(IdentityError):
    code = "session_not_found"
    status = 404
    title = "No such session"


# -- KYC -----------------------------------------------------------------------------------------
class KycAlreadyDone(IdentityError):
    code = "kyc_already_done"
    status = 409
    title = "This verification is already done"


class KycTierRequired(IdentityError):
    code = "kyc_tier_required"
    status = 409
    title = "Complete the previous verification level first"


class IdNumberInUse(IdentityError):
    code = "id_number_in_use"
    status = 409
    title = "This ID number is already verified on another account"


class LivenessFailed(IdentityError):
    code = "liveness_failed"
    status = 422
    title = "The liveness check did not pass; take the selfie again"


class RealNameMismatch(IdentityError):
    code = "real_name_mismatch"
    status = 422
    title = "The name and ID number do not match the national register"


class ServicePasswordWrong(IdentityError):
    code = "service_password_wrong"
    status = 422
    title = "The carrier says this is not the number's service password"


class IdentityProviderUnavailable(IdentityError):
    code = "identity_provider_unavailable"
    status = 503
    title = "The verification provider did not answer; try again shortly"


# -- limits --------------------------------------------------------------------------------------
class LimitExceeded(IdentityError):
    """A money flow would pass a limit of the seller's tier.

    Extra fields: ``limit`` (``per_order``/``daily``/``annual``/``lifetime``), ``size_fen``,
    ``remaining_fen``, ``tier``, ``flow``.
    """

    code = "limit_exceeded"
    status = 422
    title = "This would pass a limit of your verification level"


class UnknownLimitFlow(IdentityError):
    code = "unknown_limit_flow"
    status = 422
    title = "No limits are defined for this money flow"


class LimitUsageConflict(IdentityError):
    code = "limit_usage_conflict"
    status = 409
    title = "This reference was already recorded with different figures"


# -- records -------------------------------------------------------------------------------------
class SellerNotFound(IdentityError):
    code = "seller_not_found"
    status = 404
    title = "No such seller"


class StaffNotFound(IdentityError):
    code = "staff_not_found"
    status = 404
    title = "No such staff account"


class UsernameTaken(IdentityError):
    code = "username_taken"
    status = 409
    title = "That username is taken"


class CannotChangeOwnAccount(IdentityError):
    code = "cannot_change_own_account"
    status = 409
    title = "Staff cannot change their own role or disable themselves"


class PartnerNotFound(IdentityError):
    code = "partner_not_found"
    status = 404
    title = "No such partner"


class InvalidPartnerName(IdentityError):
    code = "invalid_partner_name"
    status = 422
    title = "A partner name is 2 to 120 characters"


class PartnerNameTaken(IdentityError):
    code = "partner_name_taken"
    status = 409
    title = "A partner with that name exists"


class ApiKeyNotFound(IdentityError):
    code = "api_key_not_found"
    status = 404
    title = "No such API key"


class ApiKeyInactive(IdentityError):
    code = "api_key_inactive"
    status = 409
    title = "The API key is already revoked or expired"


@dataclass(frozen=True, slots=True)
class Refused:
    """A refusal that must be committed (a failed attempt counted, an auth event logged).

    Services return it instead of raising so the unit of work commits the record of the
    failure; the edge raises ``error`` after the commit.
    """

    error: HuafeiError


def locked_out(action: str, unlock_at: datetime, now: datetime) -> LockedOut:
    seconds = max(1, int((unlock_at - now).total_seconds() + 0.999))
    return LockedOut(
        f"Too many failed attempts; try again after {unlock_at.strftime('%Y-%m-%d %H:%M:%S')} UTC.",
        action=action,
        unlock_at=unlock_at.isoformat(),
        retry_after_seconds=seconds,
    )
