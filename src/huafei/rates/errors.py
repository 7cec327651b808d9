"""Typed errors of rates, quotes and the agreement."""

from __future__ import annotations

from huafei.core.errors import HuafeiError


class RatesError(HuafeiError):
    code = "rates_error"
    status = 422
    title = "Rate request failed"


class ProfileNotFound(RatesError):
    code = "profile_not_found"
    status = 404
    title = "No such channel profile"


class NoRateCard(RatesError):
    code = "no_rate_card"
    status = 409
    title = "No rate card is in effect for this profile"


class CardTypeNotOffered(RatesError):
    code = "card_type_not_offered"
    title = "This carrier, face value and lane are not bought on this profile"


class QuoteNotFound(RatesError):
    code = "quote_not_found"
    status = 404
    title = "No such quote"


class QuoteExpired(RatesError):
    code = "quote_expired"
    status = 409
    title = "The quote has expired; ask for a new one"


class OverSingleOrderLimit(RatesError):
    code = "over_single_order_limit"
    title = "The order is larger than this channel profile accepts in one order"


class AgreementNotFound(RatesError):
    code = "agreement_not_found"
    status = 404
    title = "No such agreement version"


class AgreementHashMismatch(RatesError):
    code = "agreement_hash_mismatch"
    status = 409
    title = "The agreement you accepted is not the version on file"


class LawfulSourceNotConfirmed(RatesError):
    code = "lawful_source_not_confirmed"
    title = "Confirm that the cards come from a lawful source (来源合法)"


class InvalidRateCard(RatesError):
    code = "invalid_rate_card"
    title = "The rate card is not valid"


class BalanceNotOffered(RatesError):
    code = "balance_not_offered"
    title = "This profile's rate card buys no balance of this carrier"
