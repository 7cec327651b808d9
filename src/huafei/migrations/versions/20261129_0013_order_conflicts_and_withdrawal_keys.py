"""orders: the `conflict` state; withdrawals: idempotency keys as long as the edge accepts (255)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_STATES = (
    "'submitted','review','blocked','queued','consuming','succeeded','face_value_mismatch',"
    "{conflict}'failed','settling','settled','cancelled','expired'"
)


def _orders_states(*, with_conflict: bool) -> None:
    states = _STATES.format(conflict="'conflict'," if with_conflict else "")
    # (On SQLite the batch copies the table; its partial indexes come along as they were.)
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_orders_state_known"), type_="check")
        batch_op.create_check_constraint("state_known", sa.text(f"state IN ({states})"))


def upgrade() -> None:
    _orders_states(with_conflict=True)
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.alter_column(
            "idempotency_key",
            existing_type=sa.String(length=80),
            type_=sa.String(length=255),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.alter_column(
            "idempotency_key",
            existing_type=sa.String(length=255),
            type_=sa.String(length=80),
            existing_nullable=False,
        )
    _orders_states(with_conflict=False)
