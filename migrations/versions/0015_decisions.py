"""Add decisions: the ship / no-ship call, its answers, waivers and the frozen review.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import betas.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STANDING = sa.text("reopened_at IS NULL")


def upgrade() -> None:
    """Apply the change."""
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("beta_id", sa.Integer(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "ship",
                "no_ship",
                name="outcome",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("learned", sa.Text(), nullable=False),
        sa.Column("participants", sa.JSON(), nullable=False),
        sa.Column("waivers", sa.JSON(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("created_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reopened_at", betas.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reopened_by_id", sa.Integer(), nullable=True),
        sa.Column("reopen_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("length(rationale) > 0", name=op.f("ck_decisions_rationale_not_empty")),
        sa.ForeignKeyConstraint(
            ["beta_id"], ["betas.id"], name=op.f("fk_decisions_beta_id_betas"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["reopened_by_id"], ["users.id"], name=op.f("fk_decisions_reopened_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["token_id"], ["api_tokens.id"], name=op.f("fk_decisions_token_id_api_tokens")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_decisions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
    )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_decisions_beta_id"), ["beta_id"], unique=False)
        # At most one decision of a beta stands; reopened ones stay beside it.
        batch_op.create_index(
            "uq_decisions_standing",
            ["beta_id"],
            unique=True,
            sqlite_where=STANDING,
            postgresql_where=STANDING,
        )


def downgrade() -> None:
    """Undo the change."""
    op.drop_table("decisions")
