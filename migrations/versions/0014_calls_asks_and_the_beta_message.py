"""Add calls (with attendees), asks for feedback, feedback items' call, the beta message.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import betas.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the change."""
    op.create_table(
        "asks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("beta_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("asked_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("asked_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_asks_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["asked_by_id"], ["users.id"], name=op.f("fk_asks_asked_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["beta_id"], ["betas.id"], name=op.f("fk_asks_beta_id_betas"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asks")),
    )
    with op.batch_alter_table("asks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_asks_account_id"), ["account_id", "asked_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_asks_beta_id"), ["beta_id", "asked_at"], unique=False)

    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("beta_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("held_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("guests", sa.Text(), nullable=False),
        sa.Column("questions", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_calls_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["beta_id"], ["betas.id"], name=op.f("fk_calls_beta_id_betas"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_calls_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calls_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_beta_id"), ["beta_id", "held_at"], unique=False)

    op.create_table(
        "call_attendees",
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name=op.f("fk_call_attendees_call_id_calls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_call_attendees_user_id_users")
        ),
        sa.PrimaryKeyConstraint("call_id", "user_id", name=op.f("pk_call_attendees")),
    )
    with op.batch_alter_table("betas", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message", sa.Text(), nullable=True))

    with op.batch_alter_table("feedback_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("call_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_feedback_items_call_id"), ["call_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_feedback_items_call_id_calls"), "calls", ["call_id"], ["id"]
        )


def downgrade() -> None:
    """Undo the change."""
    with op.batch_alter_table("feedback_items", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_feedback_items_call_id_calls"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_feedback_items_call_id"))
        batch_op.drop_column("call_id")

    with op.batch_alter_table("betas", schema=None) as batch_op:
        batch_op.drop_column("message")

    op.drop_table("call_attendees")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calls_beta_id"))
        batch_op.drop_index(batch_op.f("ix_calls_account_id"))

    op.drop_table("calls")
    with op.batch_alter_table("asks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_asks_beta_id"))
        batch_op.drop_index(batch_op.f("ix_asks_account_id"))

    op.drop_table("asks")
