"""Response shapes of the wallet routes: balances and the statement.

Amounts go out as integer fen plus ``Money.plain()`` text for display (``"1234.50"``).
"""

from __future__ import annotations

from datetime import datetime

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


class StatementRowOut(BaseModel):
    transfer_id: str
    at: datetime
    reason_code: int
    reason: str
    ref: str | None
    memo: str
    pending_change_fen: int
    available_change_fen: int
    held_change_fen: int


class StatementPageOut(BaseModel):
    rows: list[StatementRowOut]
    next_cursor: str | None
