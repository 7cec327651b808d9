"""Vouchers (交易凭证): the immutable record of a completed sale or payout, as canonical JSON
with its SHA-256, a PDF in Chinese rendered from it, and a public verification page
(docs/vouchers.md)."""
