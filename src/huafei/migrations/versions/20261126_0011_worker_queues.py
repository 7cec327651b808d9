"""workers' queues: the carrier inbox's unhandled rows, consuming orders due for a check

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 16:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import huafei.core.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("check_at", huafei.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("check_every_seconds", sa.Integer(), nullable=True))
        batch_op.create_index(
            "ix_orders_check_due",
            ["check_at"],
            unique=False,
            sqlite_where=sa.text("state = 'consuming'"),
            postgresql_where=sa.text("state = 'consuming'"),
        )
    with op.batch_alter_table("carrier_inbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_carrier_inbox_unhandled",
            ["id"],
            unique=False,
            sqlite_where=sa.text("handled_at IS NULL"),
            postgresql_where=sa.text("handled_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_orders_check_due",
            sqlite_where=sa.text("state = 'consuming'"),
            postgresql_where=sa.text("state = 'consuming'"),
        )
        batch_op.drop_column("check_every_seconds")
        batch_op.drop_column("check_at")
    with op.batch_alter_table("carrier_inbox", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_carrier_inbox_unhandled",
            sqlite_where=sa.text("handled_at IS NULL"),
            postgresql_where=sa.text("handled_at IS NULL"),
        )
