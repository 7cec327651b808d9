"""Money out: payout methods, withdrawals, payout rails and their sandboxes, reconciliation,
and the escrow segregation that keeps client money covered."""
