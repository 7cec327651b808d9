"""Response shapes of the wallet routes: the balances (a statement page is the service's own
``WalletStatementPage``).

Amounts go out as integer fen plus ``Money.plain()`` text for display (``"1234.50"``).
"""

from __future__ import annotations

from pydantic import BaseModel


class Balances(BaseModel):
    owner_ref: str
    currency: str
    pending_fen: int
    available_fen: int
    held_fen: int
    total_fen: int
    pending: str
    available: str
    held: str
    total: str
