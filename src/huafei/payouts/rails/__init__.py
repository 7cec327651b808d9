"""Payout rails: the ``PayoutRail`` protocol, the HTTP client, statement formats, sandboxes."""
