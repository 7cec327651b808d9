"""carrier inbox: the unhandled rows are the workers' queue

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 16:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("carrier_inbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_carrier_inbox_unhandled",
            ["id"],
            unique=False,
            sqlite_where=sa.text("handled_at IS NULL"),
            postgresql_where=sa.text("handled_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("carrier_inbox", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_carrier_inbox_unhandled",
            sqlite_where=sa.text("handled_at IS NULL"),
            postgresql_where=sa.text("handled_at IS NULL"),
        )
