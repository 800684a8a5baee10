"""Store each membership's since-joined totals over its completed days, and how far they run.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the change."""
    with op.batch_alter_table("values_marks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totals_through", sa.Integer(), nullable=True))
    op.create_table(
        "membership_totals",
        sa.Column("beta_id", sa.Integer(), nullable=False),
        sa.Column("metric_id", sa.Integer(), nullable=False),
        sa.Column("membership_id", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["beta_id"],
            ["betas.id"],
            name=op.f("fk_membership_totals_beta_id_betas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["memberships.id"],
            name=op.f("fk_membership_totals_membership_id_memberships"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["metric_id"],
            ["success_metrics.id"],
            name=op.f("fk_membership_totals_metric_id_success_metrics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("metric_id", "membership_id", name=op.f("pk_membership_totals")),
    )
    with op.batch_alter_table("membership_totals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_membership_totals_beta_id"), ["beta_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_membership_totals_membership_id"), ["membership_id"], unique=False
        )


def downgrade() -> None:
    """Undo the change: the stored totals go (values then read each membership's history)."""
    with op.batch_alter_table("membership_totals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_membership_totals_membership_id"))
        batch_op.drop_index(batch_op.f("ix_membership_totals_beta_id"))
    op.drop_table("membership_totals")
    with op.batch_alter_table("values_marks", schema=None) as batch_op:
        batch_op.drop_column("totals_through")
