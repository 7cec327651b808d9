"""Identity and access: sellers and their KYC tiers and limits, staff and roles, partners and
their API keys, sessions, and the operation log."""
