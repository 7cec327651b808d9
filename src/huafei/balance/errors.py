"""Typed errors of balance recycling (problem details with stable codes)."""

from __future__ import annotations

from huafei.core.errors import HuafeiError


class BalanceError(HuafeiError):
    code = "balance_error"
    status = 422
    title = "Balance request failed"


# -- step 1: identity with the carrier -------------------------------------------------------------
class KycLevelRequired(BalanceError):
    code = "balance_kyc_level_required"
    status = 403
    title = "Selling balance needs verification level 3 (the carrier service password)"


class NumberNotYours(BalanceError):
    code = "balance_number_not_verified"
    status = 403
    title = "Only the number verified as yours can sell its balance"


class WrongServicePassword(BalanceError):
    code = "balance_wrong_service_password"
    title = "The carrier says this is not the number's service password"


class UnknownNumber(BalanceError):
    code = "balance_unknown_number"
    title = "The carrier has no such number"


class NumberOfAnotherCarrier(BalanceError):
    code = "balance_number_of_another_carrier"
    title = "The number belongs to another carrier; if it was ported (携号转网), name its carrier"


class WrongCode(BalanceError):
    code = "balance_wrong_code"
    title = "The verification code is not the one the carrier texted"


class CodeExpired(BalanceError):
    code = "balance_code_expired"
    status = 409
    title = "The verification code has expired; start again for a new one"


class AuthorisationNotFound(BalanceError):
    code = "balance_authorisation_not_found"
    status = 404
    title = "No such balance authorisation"


class AuthorisationNotVerified(BalanceError):
    code = "balance_code_not_confirmed"
    status = 409
    title = "Confirm the code the carrier texted first"


class AuthorisationExpired(BalanceError):
    code = "balance_authorisation_expired"
    status = 409
    title = "The authorisation has expired; verify the number with the carrier again"


class AuthorisationUsed(BalanceError):
    code = "balance_authorisation_used"
    status = 409
    title = "A sale was already made under this authorisation"


# -- step 2: the balance and the amount ------------------------------------------------------------
class BalanceNotQueried(BalanceError):
    code = "balance_not_queried"
    status = 409
    title = "Ask for the number's balance before choosing an amount"


class AmountTooSmall(BalanceError):
    code = "balance_amount_too_small"
    title = "The amount is below the smallest transfer the carrier allows"


class AmountNotWholeUnit(BalanceError):
    code = "balance_amount_not_whole_unit"
    title = "The carrier transfers whole units only (e.g. whole yuan)"


class AmountOverBalance(BalanceError):
    code = "balance_amount_over_balance"
    title = "The amount is more than the number's balance"


class MonthlyLimitExceeded(BalanceError):
    code = "balance_monthly_limit_exceeded"
    title = "The amount is over what the carrier lets this number transfer this month"


# -- steps 3 and 4: quote, agreement, freeze and transfer ------------------------------------------
class QuoteMismatch(BalanceError):
    code = "balance_quote_mismatch"
    status = 409
    title = "The quote was not made for this authorisation's number"


class NoReceivingNumber(BalanceError):
    code = "balance_no_receiving_number"
    status = 503
    title = "The platform has no receiving number at this carrier now"


class SaleNotFound(BalanceError):
    code = "balance_sale_not_found"
    status = 404
    title = "No such balance sale"


class InvalidTransition(BalanceError):
    code = "balance_invalid_transition"
    status = 409
    title = "The sale cannot move to that state from where it is"
