"""Add feedback items: what customers said, codified, with the context it was said in.

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import betas.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the change."""
    op.create_table(
        "feedback_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("beta_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("original", sa.Text(), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "call",
                "message",
                "email",
                "survey",
                "in_app",
                "other",
                name="feedback_source",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("type", sa.String(length=64), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("duplicate_of_id", sa.Integer(), nullable=True),
        sa.Column(
            "blocker_state",
            sa.Enum(
                "open",
                "resolved",
                name="blocker_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("cohort_id", sa.Integer(), nullable=True),
        sa.Column("member_status", sa.String(length=32), nullable=True),
        sa.Column("previous_beta_name", sa.String(length=200), nullable=True),
        sa.Column("previous_beta_left_at", betas.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("logged_by_id", sa.Integer(), nullable=True),
        sa.Column("logged_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_feedback_items_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["beta_id"],
            ["betas.id"],
            name=op.f("fk_feedback_items_beta_id_betas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["cohort_id"], ["cohorts.id"], name=op.f("fk_feedback_items_cohort_id_cohorts")
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"],
            ["feedback_items.id"],
            name=op.f("fk_feedback_items_duplicate_of_id_feedback_items"),
        ),
        sa.ForeignKeyConstraint(
            ["logged_by_id"], ["users.id"], name=op.f("fk_feedback_items_logged_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_items")),
    )
    with op.batch_alter_table("feedback_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feedback_items_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_feedback_items_beta_id"), ["beta_id", "id"], unique=False
        )


def downgrade() -> None:
    """Undo the change."""
    op.drop_table("feedback_items")
