"""Add ship notices and a ship's message: closing the loop with the accounts that asked.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 11:13:54.540897
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import betas.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the change."""
    op.create_table(
        "ship_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("beta_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("told_by_id", sa.Integer(), nullable=False),
        sa.Column("told_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_ship_notices_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["beta_id"],
            ["betas.id"],
            name=op.f("fk_ship_notices_beta_id_betas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["told_by_id"], ["users.id"], name=op.f("fk_ship_notices_told_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ship_notices")),
        sa.UniqueConstraint(
            "beta_id", "account_id", name=op.f("uq_ship_notices_beta_id_account_id")
        ),
    )
    with op.batch_alter_table("ship_notices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ship_notices_account_id"), ["account_id"], unique=False
        )

    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ship_message", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    """Undo the change."""
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_column("ship_message")

    op.drop_table("ship_notices")
