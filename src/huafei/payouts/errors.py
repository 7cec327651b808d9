"""Typed payout errors; each ``code`` is stable and listed in docs/payouts.md."""

from __future__ import annotations

from huafei.core.errors import HuafeiError


class PayoutError(HuafeiError):
    code = "payout_error"
    status = 422
    title = "The payout request was refused"


class RealNameRequired(PayoutError):
    code = "real_name_required"
    status = 403
    title = "real name verification required (L2)"


class HolderNameMismatch(PayoutError):
    code = "holder_name_mismatch"
    title = "The account holder's name differs from the verified real name"


class VerificationCodeInvalid(PayoutError):
    code = "verification_code_invalid"
    title = "The SMS verification code is wrong or expired"


class InvalidPayoutAccount(PayoutError):
    code = "invalid_payout_account"
    title = "The payout account is not valid"


class CardNumberInvalid(InvalidPayoutAccount):
    code = "card_number_invalid"
    title = "The bank card number fails the check digit (Luhn) or its length is wrong"


class CardBankUnsupported(InvalidPayoutAccount):
    code = "card_bank_unsupported"
    title = "The card's issuing bank is not one we pay out to"


class CreditCardNotAllowed(InvalidPayoutAccount):
    code = "credit_card_not_allowed"
    title = "Withdrawals go to debit cards only"


class PayoutMethodExists(PayoutError):
    code = "payout_method_exists"
    status = 409
    title = "This payout account is already on file"


class PayoutMethodNotFound(PayoutError):
    code = "payout_method_not_found"
    status = 404
    title = "Payout method not found"


class WithdrawalNotFound(PayoutError):
    code = "withdrawal_not_found"
    status = 404
    title = "Withdrawal not found"


class BelowMinimum(PayoutError):
    code = "withdrawal_below_minimum"
    title = "The amount is below the minimum withdrawal"


class LimitExceeded(PayoutError):
    code = "withdrawal_limit_exceeded"
    title = "The amount exceeds a withdrawal limit"


class InsufficientBalance(PayoutError):
    code = "insufficient_balance"
    title = "The available balance does not cover the amount and the fee"


class FeeChanged(PayoutError):
    code = "withdrawal_fee_changed"
    status = 409
    title = "The fee differs from the one quoted; quote again"


class WithdrawalRefused(PayoutError):
    code = "withdrawal_refused_by_risk"
    status = 403
    title = "The withdrawal was refused by risk control"


class IdempotencyConflict(PayoutError):
    code = "withdrawal_idempotency_conflict"
    status = 409
    title = "This idempotency key was used for a different withdrawal"


class InvalidTransition(PayoutError):
    code = "withdrawal_invalid_transition"
    status = 409
    title = "The withdrawal is not in a state that allows this"


class FourEyesViolation(PayoutError):
    code = "four_eyes_violation"
    status = 403
    title = "The approver must differ from everyone who touched the request"


class UnknownRail(PayoutError):
    code = "unknown_rail"
    status = 404
    title = "No such payout rail"


class SweepRefused(PayoutError):
    code = "sweep_refused"
    status = 409
    title = "The sweep would leave escrow below what the wallets are owed"


class CaseNotFound(PayoutError):
    code = "reconciliation_case_not_found"
    status = 404
    title = "Reconciliation case not found"


class StatementUnreadable(PayoutError):
    code = "statement_unreadable"
    title = "The statement file is not in the rail's format"
