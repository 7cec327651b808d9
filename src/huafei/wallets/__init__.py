"""Wallets: every owner's pending / available / held ledger accounts, balances and statements."""
