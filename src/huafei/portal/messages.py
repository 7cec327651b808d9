"""What the portal says when something is refused: every error code the pages can meet,
in words a seller or an operator understands, translated through the catalogues.

A message may name fields of the error (``%(retry_after_seconds)s``); a missing field leaves the
message without it rather than failing. An unknown code falls back to a message by status.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from huafei.core.errors import HuafeiError
from huafei.portal.i18n import N_

ERROR_MESSAGES: dict[str, str] = {
    # generic
    "not_found": N_("We could not find that page."),
    "validation_failed": N_("Some of what was entered is not valid; please check it."),
    "invalid_amount": N_("Enter an amount in yuan with at most two decimals, such as 100.50."),
    "invalid_text": N_(
        "A field holds a character that is not accepted: a control character, or a digit "
        "that is not 0-9. Please type it again."
    ),
    "form_expired": N_("The form expired; please try again."),
    "fields_missing": N_("Please fill in every field."),
    "internal_error": N_("Something went wrong on our side; please try again in a moment."),
    # signing in
    "invalid_phone_number": N_("Enter a mainland China mobile number of 11 digits."),
    "unsupported_carrier": N_(
        "This number is not from China Mobile, China Unicom or China Telecom."
    ),
    "sms_resend_too_soon": N_(
        "A code was sent moments ago; you can ask again in %(retry_after_seconds)s seconds."
    ),
    "sms_rate_limited": N_("Too many codes were asked for; try again later."),
    "sms_code_not_requested": N_("No code is waiting for this number; ask for a new one."),
    "sms_code_expired": N_("The code has expired; ask for a new one."),
    "sms_code_wrong": N_("That code is not right. Tries left: %(attempts_left)s."),
    "sms_code_attempts_exhausted": N_("Too many wrong tries for this code; ask for a new one."),
    "invalid_credentials": N_("The sign-in details are not right."),
    "locked_out": N_(
        "Too many failed attempts; this is locked for now. Try again in "
        "%(retry_after_seconds)s seconds."
    ),
    "rate_limited": N_("Too many attempts from this address; try again later."),
    "not_authenticated": N_("Please sign in first."),
    "session_expired": N_("Your session has ended; please sign in again."),
    "forbidden": N_("This page is not for this kind of account."),
    "permission_denied": N_("Your role does not allow this."),
    "csrf_failed": N_("The form expired; please try again."),
    "session_not_found": N_("That session has already ended."),
    # verification
    "invalid_real_name": N_("Enter your name exactly as on your ID card."),
    "invalid_id_number": N_("This is not a valid resident ID number."),
    "id_check_digit_mismatch": N_("The last character of the ID number does not match."),
    "id_birth_date_invalid": N_("The date of birth in the ID number is not valid."),
    "seller_is_minor": N_("Sellers must be 18 or older."),
    "liveness_failed": N_(
        "The liveness check did not pass; take the selfie again. Tries left: %(attempts_left)s."
    ),
    "real_name_mismatch": N_(
        "The name and ID number do not match the national register. Tries left: %(attempts_left)s."
    ),
    "identity_provider_unavailable": N_(
        "The verification service did not answer; try again shortly."
    ),
    "id_number_in_use": N_("This ID number is already verified on another account."),
    "kyc_already_done": N_("This verification is already done."),
    "kyc_tier_required": N_("Complete the previous verification level first."),
    "service_password_wrong": N_(
        "The carrier says this is not your number's service password. "
        "Tries left: %(attempts_left)s."
    ),
    "limit_exceeded": N_("This would pass a limit of your verification level."),
    "seller_not_found": N_("No such seller."),
    # payout methods and withdrawals
    "real_name_required": N_("Verify your real name (level 2) before adding a payout account."),
    "holder_name_mismatch": N_("The account holder's name must be your verified real name."),
    "verification_code_invalid": N_("The SMS code is wrong or has expired."),
    "invalid_payout_account": N_("This payout account is not valid."),
    "unknown_method_kind": N_("Choose a bank card, Alipay, WeChat Pay or an e-CNY wallet."),
    "card_number_invalid": N_("The bank card number is not valid; check the digits."),
    "card_bank_unsupported": N_("We cannot pay out to cards of this bank yet."),
    "credit_card_not_allowed": N_("Withdrawals go to debit cards only."),
    "payout_method_exists": N_("This account is already on file."),
    "payout_method_not_found": N_("That payout account was not found."),
    "withdrawal_not_found": N_("That withdrawal was not found."),
    # vouchers
    "voucher_not_found": N_(
        "No voucher has this number and check code. Check both against the voucher."
    ),
    "voucher_verify_rate_limited": N_(
        "Too many vouchers were checked from this address; try again in "
        "%(retry_after_seconds)s seconds."
    ),
    "voucher_integrity_failed": N_(
        "This voucher no longer matches its archived hash and cannot be downloaded; please "
        "contact us."
    ),
    "withdrawal_below_minimum": N_("The amount is below the minimum withdrawal."),
    "withdrawal_limit_exceeded": N_("The amount is over a withdrawal limit."),
    "insufficient_balance": N_("Your available balance does not cover the amount and the fee."),
    "withdrawal_fee_changed": N_("The fee has changed since you saw it; please check it again."),
    "withdrawal_refused_by_risk": N_("This withdrawal cannot be made; contact support."),
    "withdrawal_idempotency_conflict": N_("This withdrawal was already submitted."),
    "withdrawal_invalid_transition": N_("The withdrawal is no longer in a state that allows this."),
    "rejection_reason_missing": N_("Give the seller a reason for the rejection."),
    "four_eyes_violation": N_(
        "Someone else must approve this: the approver must differ from everyone who touched it."
    ),
    "idempotency_key_required": N_("The form expired; please try again."),
    "idempotency_key_reused": N_("This was already submitted."),
    # consumption credit and top-ups
    "insufficient_credit": N_("Your consumption credit does not cover the price of this top-up."),
    "topup_amount_not_sold": N_("The number's carrier does not top up this amount."),
    "topup_price_changed": N_("The price has changed since you saw it; please check it again."),
    "topup_not_found": N_("That top-up was not found."),
    "topup_idempotency_conflict": N_("This top-up was already submitted."),
    # rates, cards, orders
    "profile_not_found": N_("No such channel profile."),
    "no_rate_card": N_("No rates are in effect for this channel right now."),
    "card_type_not_offered": N_("We do not buy this carrier and face value on this channel."),
    "quote_not_found": N_("The quote was not found; ask for a new one."),
    "quote_expired": N_("The quote has expired; please review the payout again."),
    "over_single_order_limit": N_("This is more than one order may hold on this channel."),
    "agreement_not_found": N_("The agreement was not found."),
    "agreement_hash_mismatch": N_("The agreement has changed; please read and accept it again."),
    "lawful_source_not_confirmed": N_("Confirm that the cards come from a lawful source."),
    "face_value_not_sold": N_("The carrier does not sell cards of this face value."),
    "card_format_invalid": N_("The card number or PIN does not match the carrier's format."),
    "empty_batch": N_("Enter at least one card."),
    "batch_rejected": N_("None of the cards could be accepted; see the reasons below."),
    "order_not_found": N_("That order was not found."),
    "order_not_cancellable": N_("This order is already with the carrier and cannot be cancelled."),
    "invalid_order_transition": N_("This order cannot change that way now."),
    "card_already_submitted": N_("This card is already in one of your live orders."),
    "too_many_failed_cards": N_(
        "Too many of your cards failed recently; submissions are paused for "
        "%(retry_after_seconds)s seconds."
    ),
    "batch_not_found": N_("That batch was not found."),
    # selling balance
    "balance_kyc_level_required": N_(
        "Selling balance needs level 3: verify your carrier service password first."
    ),
    "balance_number_not_verified": N_("Only the number you signed in with can sell its balance."),
    "balance_wrong_service_password": N_(
        "The carrier says this is not the number's service password. Tries left: %(attempts_left)s."
    ),
    "balance_unknown_number": N_("The carrier does not know this number."),
    "balance_number_of_another_carrier": N_(
        "This number is with another carrier. If you moved it (携号转网), choose its carrier."
    ),
    "balance_wrong_code": N_("That code is not right. Tries left: %(attempts_left)s."),
    "balance_code_expired": N_("The code has expired; start again for a new one."),
    "balance_authorisation_not_found": N_("We could not find that page."),
    "balance_code_not_confirmed": N_("Enter the carrier's code first."),
    "balance_authorisation_expired": N_(
        "Too much time has passed; verify with your carrier again."
    ),
    "balance_authorisation_used": N_("This verification was already used for a sale."),
    "balance_not_queried": N_("Look at the balance before choosing an amount."),
    "balance_amount_too_small": N_("The amount is below the smallest the carrier transfers."),
    "balance_amount_not_whole_unit": N_("The carrier transfers whole yuan only."),
    "balance_amount_over_balance": N_("The amount is more than the number's balance."),
    "balance_monthly_limit_exceeded": N_(
        "The carrier's monthly transfer limit for this number leaves less than that."
    ),
    "balance_quote_mismatch": N_("The rate was not for this number; ask for a new one."),
    "balance_no_receiving_number": N_(
        "The platform cannot take this carrier's balance now; try again later."
    ),
    "balance_sale_not_found": N_("We could not find that page."),
    "balance_not_offered": N_("This way of being paid does not buy this carrier's balance."),
    "carrier_gateway_error": N_("The carrier did not answer properly; try again in a moment."),
    "carrier_gateway_timeout": N_("The carrier did not answer in time; try again in a moment."),
}

#: Why a pasted card line is refused (``huafei.cards.parser`` reason codes and the orders'
#: own checks).
LINE_REASONS: dict[str, str] = {
    "missing_pin": N_("the PIN is missing"),
    "too_many_fields": N_("too many fields; write the card number, then the PIN"),
    "not_digits": N_("card numbers and PINs are digits only"),
    "serial_length": N_("the card number has the wrong length for this carrier"),
    "pin_length": N_("the PIN has the wrong length for this carrier"),
    "wrong_carrier": N_("this card is not from the chosen carrier"),
    "duplicate_in_batch": N_("this card appears twice in the batch"),
    "too_many_cards": N_("more than 1,000 cards in one batch"),
    "duplicate_card": N_("this card was submitted before"),
    "already_submitted": N_("this card is already in one of your live orders"),
    "limit_exceeded": N_("over a limit of your verification level"),
    "risk_blocked": N_("refused by risk control"),
}

_BY_STATUS: dict[int, str] = {
    401: N_("Please sign in first."),
    403: N_("You are not allowed to do this."),
    404: N_("We could not find that page."),
    409: N_("This cannot be done in the current state."),
    422: N_("Some of what was entered is not valid; please check it."),
    429: N_("Too many attempts; please wait a moment."),
    503: N_("A service we depend on did not answer; try again shortly."),
}


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def describe(
    code: str,
    gettext: Callable[[str], str],
    *,
    status: int = 400,
    fields: Mapping[str, Any] | None = None,
) -> str:
    """The message for an error ``code`` in the language of ``gettext``."""
    template = (
        ERROR_MESSAGES.get(code) or _BY_STATUS.get(status) or ERROR_MESSAGES["validation_failed"]
    )
    text = gettext(template)
    if "%(" not in text:
        return text
    return text % _Fields(fields or {})


def describe_error(error: HuafeiError, gettext: Callable[[str], str]) -> str:
    return describe(error.code, gettext, status=error.status, fields=error.extra)


def describe_problem(problem: Mapping[str, Any], status: int, gettext: Callable[[str], str]) -> str:
    """The message of a problem document (the refusal an idempotent request stored)."""
    return describe(str(problem.get("code", "")), gettext, status=status, fields=problem)


def describe_line(code: str, gettext: Callable[[str], str]) -> str:
    """Why one card line was refused."""
    found = LINE_REASONS.get(code)
    return gettext(found) if found else code
