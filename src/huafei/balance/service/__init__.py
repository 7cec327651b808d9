"""The rules of balance recycling, by step (docs/balance.md)."""
