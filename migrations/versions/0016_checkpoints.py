"""Add checkpoints: outcome checks at 1, 3, 6 and 12 months after a ship.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 11:08:55.834055
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import betas.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the change."""
    op.create_table(
        "checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("solved", sa.Text(), nullable=True),
        sa.Column("outcomes", sa.Text(), nullable=True),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("measured", sa.JSON(), nullable=False),
        sa.Column("reported_at", betas.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reported_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("months IN (1, 3, 6, 12)", name=op.f("ck_checkpoints_months_known")),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
            name=op.f("fk_checkpoints_decision_id_decisions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reported_by_id"], ["users.id"], name=op.f("fk_checkpoints_reported_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkpoints")),
        sa.UniqueConstraint(
            "decision_id", "months", name=op.f("uq_checkpoints_decision_id_months")
        ),
    )
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_checkpoints_decision_id"), ["decision_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_checkpoints_due_on"), ["due_on"], unique=False)


def downgrade() -> None:
    """Undo the change."""
    op.drop_table("checkpoints")
