"""Keep every metric's membership totals, as one row per metric, in place of a row per membership.

The totals stored before held the since-joined metrics' only, a row per metric and
membership; they go, and the mark's `totals_through` with them: the next request computes from
the stale day and stores them all.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _membership_totals() -> None:
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


def upgrade() -> None:
    """Apply the change."""
    with op.batch_alter_table("membership_totals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_membership_totals_membership_id"))
        batch_op.drop_index(batch_op.f("ix_membership_totals_beta_id"))
    op.drop_table("membership_totals")
    op.create_table(
        "metric_totals",
        sa.Column("metric_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("beta_id", sa.Integer(), nullable=False),
        sa.Column("totals", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["beta_id"],
            ["betas.id"],
            name=op.f("fk_metric_totals_beta_id_betas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["metric_id"],
            ["success_metrics.id"],
            name=op.f("fk_metric_totals_metric_id_success_metrics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("metric_id", name=op.f("pk_metric_totals")),
    )
    with op.batch_alter_table("metric_totals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_metric_totals_beta_id"), ["beta_id"], unique=False)
    op.execute("UPDATE values_marks SET totals_through = NULL")


def downgrade() -> None:
    """Undo the change: the totals go (the code before reads a row per membership, since-joined)."""
    with op.batch_alter_table("metric_totals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metric_totals_beta_id"))
    op.drop_table("metric_totals")
    _membership_totals()
    op.execute("UPDATE values_marks SET totals_through = NULL")
