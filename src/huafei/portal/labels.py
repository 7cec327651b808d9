"""Names the pages show for the platform's codes (carriers, profiles, states, notice kinds),
marked for translation; a page translates them in its own language."""

from __future__ import annotations

from huafei.portal.i18n import N_

CARRIERS: dict[str, str] = {
    "cmcc": N_("China Mobile"),
    "cucc": N_("China Unicom"),
    "ctcc": N_("China Telecom"),
}

LANES: dict[str, str] = {
    "normal": N_("Normal lane"),
    "fast": N_("Fast lane"),
}

DESTINATIONS: dict[str, str] = {
    "carrier_wallet": N_("your carrier wallet"),
    "bank_or_ecny": N_("your bank card or e-CNY wallet"),
    "points": N_("platform spending credit (points)"),
}

RATE_MODELS: dict[str, str] = {
    "fixed": N_("one fixed ratio for every face value"),
    "per_face": N_("a rate for each face value"),
    "tiered": N_("tiered: the more you sell in a month, the higher the rate"),
}

METHOD_KINDS: dict[str, str] = {
    "bank_card": N_("Bank card"),
    "alipay": N_("Alipay"),
    "wechat": N_("WeChat Pay"),
    "ecny": N_("e-CNY wallet"),
}

WITHDRAWAL_STATUSES: dict[str, str] = {
    "awaiting_approval": N_("Awaiting approval"),
    "queued": N_("Queued"),
    "sending": N_("Sending"),
    "sent": N_("Sent to the bank"),
    "paid": N_("Paid"),
    "failed": N_("Failed"),
    "rejected": N_("Rejected"),
    "cancelled": N_("Cancelled"),
}

WITHDRAWAL_EVENTS: dict[str, str] = {
    "requested": N_("Requested"),
    "awaiting_approval": N_("Waits for approval"),
    "approved": N_("Approved"),
    "note": N_("Note"),
    "queued": N_("Queued for sending"),
    "requeued": N_("Queued again"),
    "send_attempt": N_("Sent to the rail"),
    "sent": N_("Accepted by the rail"),
    "paid": N_("Paid"),
    "failed": N_("Failed"),
    "rejected": N_("Rejected"),
    "cancelled": N_("Cancelled"),
    "result_conflict": N_("Result differs from our record"),
}

NOTICE_KINDS: dict[str, str] = {
    "balance_change": N_("Balance change"),
    "payout_arrived": N_("Withdrawal arrived"),
    "payout_failed": N_("Withdrawal failed"),
    "escrow_alert": N_("Escrow alert"),
    "reconciliation": N_("Reconciliation"),
    "funds_arrived": N_("Money arrived"),
    "order_adjusted": N_("Face value adjusted"),
    "order_failed": N_("Card not redeemed"),
}

FAILURE_REASONS: dict[str, str] = {
    "wrong_pin": N_("wrong PIN"),
    "used": N_("the card was already used"),
    "expired": N_("the card has expired"),
    "rejected": N_("refused by the carrier channel"),
    "unknown": N_("the carrier channel gave no answer"),
}

#: Who moved an order, as the timeline shows it (sellers and staff by their kind).
ACTORS: dict[str, str] = {
    "seller": N_("You"),
    "staff": N_("Staff"),
    "risk": N_("Risk control"),
    "channel": N_("Carrier channel"),
    "worker": N_("Platform"),
    "system": N_("Platform"),
    "settlement": N_("Settlement"),
    "owner": N_("Seller"),
    "rail": N_("Payout rail"),
}

#: Wallet statement lines whose transfer carries no registered reason show its memo; the ones
#: card orders write read better translated.
STATEMENT_MEMOS: dict[str, str] = {
    "card consumed": N_("Card redeemed, waiting for settlement"),
    "settled": N_("Card proceeds available"),
    "card settled": N_("Card proceeds available"),
}

#: Reasons the platform writes into an order's timeline that read better translated.
EVENT_REASONS: dict[str, str] = {
    "allowed": N_("passed the risk checks"),
    "by seller": N_("cancelled by the seller"),
    "the same card was submitted by another account": N_(
        "the same card was submitted by another account"
    ),
}

ORDER_STATES: dict[str, str] = {
    "submitted": N_("Submitted"),
    "review": N_("Under review"),
    "blocked": N_("Blocked"),
    "queued": N_("Queued"),
    "consuming": N_("Redeeming"),
    "succeeded": N_("Redeemed"),
    "face_value_mismatch": N_("Face value mismatch"),
    "conflict": N_("Being checked with the carrier"),
    "failed": N_("Failed"),
    "settling": N_("Settling"),
    "settled": N_("Settled"),
    "cancelled": N_("Cancelled"),
    "expired": N_("Expired"),
}

BALANCE_STATES: dict[str, str] = {
    "frozen": N_("Payout frozen"),
    "transferring": N_("Carrier transferring"),
    "settling": N_("Settling"),
    "settled": N_("Settled"),
    "failed": N_("Failed"),
}

BALANCE_STEPS: dict[str, str] = {
    "verified": N_("Verified with the carrier"),
    "quoted": N_("Rate locked"),
    "agreed": N_("Agreement accepted, lawful source confirmed"),
    "frozen": N_("Payout frozen"),
    "transferring": N_("Carrier asked to transfer"),
    "answer_lost": N_("No answer from the carrier yet; checking with it"),
    "transferred": N_("Carrier transferred the balance"),
    "settling": N_("Waiting for the settlement time"),
    "settled": N_("Money available in your wallet"),
    "failed": N_("Carrier refused the transfer"),
}

FINAL_ORDER_STATES = frozenset({"blocked", "failed", "settled", "cancelled", "expired"})

LIMIT_FLOWS: dict[str, str] = {
    "card_sale": N_("Card sales"),
    "balance_sale": N_("Balance sales"),
    "withdrawal": N_("Withdrawals"),
}

LIMIT_WINDOWS: dict[str, str] = {
    "per_order": N_("Per order"),
    "daily": N_("Per day"),
    "annual": N_("Per year"),
    "lifetime": N_("Lifetime"),
}

TIERS: dict[int, str] = {
    1: N_("Level 1: mobile number"),
    2: N_("Level 2: real name and liveness"),
    3: N_("Level 3: carrier service password"),
}

STAFF_ROLES: dict[str, str] = {
    "support": N_("Support"),
    "risk": N_("Risk"),
    "finance": N_("Finance"),
    "compliance": N_("Compliance"),
    "admin": N_("Administrator"),
}


def label(table: dict[str, str], code: str) -> str:
    """The untranslated label of ``code`` (the code itself when it has none)."""
    return table.get(code, code)
