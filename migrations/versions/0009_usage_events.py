"""Add usage events, their kinds, and the per-account, per-kind, per-day rollup.

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-01 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import betas.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the change."""
    op.create_table(
        "event_kinds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object", sa.String(length=64), nullable=False),
        sa.Column("place", sa.String(length=64), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_kinds")),
        sa.UniqueConstraint(
            "action", "object", "place", name=op.f("uq_event_kinds_action_object_place")
        ),
    )
    op.create_table(
        "usage_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client_event_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind_id", sa.Integer(), nullable=False),
        sa.Column("user_ref", sa.String(length=200), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("occurred_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_usage_events_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["kind_id"], ["event_kinds.id"], name=op.f("fk_usage_events_kind_id_event_kinds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_events")),
        sa.UniqueConstraint("client_event_id", name=op.f("uq_usage_events_client_event_id")),
    )
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_usage_events_account_id"), ["account_id", "occurred_at"], unique=False
        )
    op.create_table(
        "usage_days",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("since", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("first_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_usage_days_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["kind_id"], ["event_kinds.id"], name=op.f("fk_usage_days_kind_id_event_kinds")
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "kind_id", "day", "since", name=op.f("pk_usage_days")
        ),
    )


def downgrade() -> None:
    """Undo the change."""
    op.drop_table("usage_days")
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usage_events_account_id"))
    op.drop_table("usage_events")
    op.drop_table("event_kinds")
