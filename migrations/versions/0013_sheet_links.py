"""Add the feedback spreadsheet: sheet links, rows last synced, conflicts, the outbox.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import betas.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the change."""
    op.create_table(
        "sheet_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("beta_id", sa.Integer(), nullable=False),
        sa.Column("spreadsheet_id", sa.String(length=200), nullable=False),
        sa.Column("worksheet", sa.String(length=100), nullable=False),
        sa.Column("sheet_id", sa.Integer(), nullable=False),
        sa.Column("linked_by_id", sa.Integer(), nullable=True),
        sa.Column("linked_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_success_at", betas.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", betas.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_try_at", betas.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("claimed_until", betas.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unmatched", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["beta_id"], ["betas.id"], name=op.f("fk_sheet_links_beta_id_betas"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["linked_by_id"], ["users.id"], name=op.f("fk_sheet_links_linked_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sheet_links")),
        sa.UniqueConstraint("beta_id", name=op.f("uq_sheet_links_beta_id")),
    )
    op.create_table(
        "outbox_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("beta_id", sa.Integer(), nullable=False),
        sa.Column("feedback_item_id", sa.Integer(), nullable=False),
        sa.Column("created_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["beta_id"],
            ["betas.id"],
            name=op.f("fk_outbox_entries_beta_id_betas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["feedback_item_id"],
            ["feedback_items.id"],
            name=op.f("fk_outbox_entries_feedback_item_id_feedback_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_entries")),
    )
    with op.batch_alter_table("outbox_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_entries_beta_id"), ["beta_id"], unique=False)

    op.create_table(
        "sheet_conflicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feedback_item_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("ours", sa.Text(), nullable=True),
        sa.Column("theirs", sa.Text(), nullable=True),
        sa.Column("detected_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["feedback_item_id"],
            ["feedback_items.id"],
            name=op.f("fk_sheet_conflicts_feedback_item_id_feedback_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sheet_conflicts")),
        sa.UniqueConstraint(
            "feedback_item_id", "field", name=op.f("uq_sheet_conflicts_feedback_item_id_field")
        ),
    )
    op.create_table(
        "sheet_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sheet_link_id", sa.Integer(), nullable=False),
        sa.Column("feedback_item_id", sa.Integer(), nullable=False),
        sa.Column("synced", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("missing_since", betas.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["feedback_item_id"],
            ["feedback_items.id"],
            name=op.f("fk_sheet_rows_feedback_item_id_feedback_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sheet_link_id"],
            ["sheet_links.id"],
            name=op.f("fk_sheet_rows_sheet_link_id_sheet_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sheet_rows")),
        sa.UniqueConstraint("feedback_item_id", name=op.f("uq_sheet_rows_feedback_item_id")),
    )
    with op.batch_alter_table("sheet_rows", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sheet_rows_sheet_link_id"), ["sheet_link_id"], unique=False
        )


def downgrade() -> None:
    """Undo the change."""
    with op.batch_alter_table("sheet_rows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sheet_rows_sheet_link_id"))

    op.drop_table("sheet_rows")
    op.drop_table("sheet_conflicts")
    with op.batch_alter_table("outbox_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_entries_beta_id"))

    op.drop_table("outbox_entries")
    op.drop_table("sheet_links")
