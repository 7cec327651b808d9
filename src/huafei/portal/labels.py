"""Names the pages show for the platform's codes (carriers, profiles, states, notice kinds),
marked for translation; a page translates them in its own language."""

from __future__ import annotations

from huafei.portal.i18n import N_

#: What a template's ``label(kind, code)`` shows: the kinds of code, each with its codes' names.
LABELS: dict[str, dict[str, str]] = {
    "carrier": {
        "cmcc": N_("China Mobile"),
        "cucc": N_("China Unicom"),
        "ctcc": N_("China Telecom"),
    },
    "lane": {
        "normal": N_("Normal lane"),
        "fast": N_("Fast lane"),
    },
    "destination": {
        "carrier_wallet": N_("your carrier wallet"),
        "cash": N_("your wallet, to withdraw to a bank card, Alipay, WeChat or e-CNY"),
        "consumption_credit": N_("consumption credit for phone top-ups"),
    },
    "rate_model": {
        "fixed": N_("one fixed ratio for every face value"),
        "per_face": N_("a rate for each face value"),
        "tiered": N_("tiered: the more you sell in a month, the higher the rate"),
    },
    "method": {
        "bank_card": N_("Bank card"),
        "alipay": N_("Alipay"),
        "wechat": N_("WeChat Pay"),
        "ecny": N_("e-CNY wallet"),
        "carrier_wallet": N_("Carrier wallet"),
    },
    "withdrawal": {
        "awaiting_approval": N_("Awaiting approval"),
        "queued": N_("Queued"),
        "sending": N_("Sending"),
        "sent": N_("Sent to the bank"),
        "paid": N_("Paid"),
        "failed": N_("Failed"),
        "rejected": N_("Rejected"),
        "cancelled": N_("Cancelled"),
    },
    "withdrawal_event": {
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
    },
    "notice": {
        "balance_change": N_("Balance change"),
        "payout_arrived": N_("Withdrawal arrived"),
        "payout_failed": N_("Withdrawal failed"),
        "escrow_alert": N_("Escrow alert"),
        "reconciliation": N_("Reconciliation"),
        "funds_arrived": N_("Money arrived"),
        "order_adjusted": N_("Face value adjusted"),
        "order_failed": N_("Card not redeemed"),
    },
    "failure": {
        "wrong_pin": N_("wrong PIN"),
        "used": N_("the card was already used"),
        "expired": N_("the card has expired"),
        "rejected": N_("refused by the carrier channel"),
        "unknown": N_("the carrier channel gave no answer"),
    },
    # Wallet statement lines whose transfer carries no registered reason show its memo; the ones
    # card orders write read better translated.
    "memo": {
        "card consumed": N_("Card redeemed, waiting for settlement"),
        "settled": N_("Card proceeds available"),
        "card settled": N_("Card proceeds available"),
    },
    # Reasons the platform writes into an order's timeline that read better translated.
    "reason": {
        "allowed": N_("passed the risk checks"),
        "by seller": N_("cancelled by the seller"),
        "the same card was submitted by another account": N_(
            "the same card was submitted by another account"
        ),
    },
    "order": {
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
    },
    "balance_state": {
        "frozen": N_("Payout frozen"),
        "transferring": N_("Carrier transferring"),
        "settling": N_("Settling"),
        "settled": N_("Settled"),
        "failed": N_("Failed"),
    },
    "balance_step": {
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
    },
    "flow": {
        "card_sale": N_("Card sales"),
        "balance_sale": N_("Balance sales"),
        "withdrawal": N_("Withdrawals"),
    },
    "window": {
        "per_order": N_("Per order"),
        "daily": N_("Per day"),
        "annual": N_("Per year"),
        "lifetime": N_("Lifetime"),
    },
    # A seller's verification level (the number, as text).
    "tier": {
        "1": N_("Level 1: mobile number"),
        "2": N_("Level 2: real name and liveness"),
        "3": N_("Level 3: carrier service password"),
    },
    "role": {
        "support": N_("Support"),
        "risk": N_("Risk"),
        "finance": N_("Finance"),
        "compliance": N_("Compliance"),
        "admin": N_("Administrator"),
    },
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
