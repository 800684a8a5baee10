"""Store metric values per metric, cohort and day, and how far each beta's hold.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the change."""
    op.create_table(
        "values_marks",
        sa.Column("beta_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("through", sa.Integer(), nullable=True),
        sa.Column("dirty_from", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["beta_id"],
            ["betas.id"],
            name=op.f("fk_values_marks_beta_id_betas"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("beta_id", name=op.f("pk_values_marks")),
    )
    op.create_table(
        "metric_day_values",
        sa.Column("metric_id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("accounts", sa.Integer(), nullable=False),
        sa.Column("measured", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id"],
            ["cohorts.id"],
            name=op.f("fk_metric_day_values_cohort_id_cohorts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["metric_id"],
            ["success_metrics.id"],
            name=op.f("fk_metric_day_values_metric_id_success_metrics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("metric_id", "cohort_id", "day", name=op.f("pk_metric_day_values")),
    )
    with op.batch_alter_table("metric_day_values", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_metric_day_values_cohort_id"), ["cohort_id"], unique=False
        )


def downgrade() -> None:
    """Undo the change."""
    with op.batch_alter_table("metric_day_values", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metric_day_values_cohort_id"))

    op.drop_table("metric_day_values")
    op.drop_table("values_marks")
