"""Create the initial schema.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 14:16:06.178486
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import betas.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the change."""
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("created_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("external_id", name=op.f("uq_accounts_external_id")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "viewer",
                "pm",
                "admin",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("session_token", sa.String(length=64), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", betas.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", betas.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", betas.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_api_tokens_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "betas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("learning_goals", sa.Text(), nullable=False),
        sa.Column("customer_outcome", sa.Text(), nullable=False),
        sa.Column("business_outcomes", sa.JSON(), nullable=False),
        sa.Column(
            "risk",
            sa.Enum(
                "low", "high", name="risk", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "draft",
                "running",
                "decided",
                name="beta_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("decision_deadline", sa.Date(), nullable=True),
        sa.Column("launched_at", betas.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("length(key) > 0", name=op.f("ck_betas_key_not_empty")),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_betas_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_betas")),
        sa.UniqueConstraint("key", name=op.f("uq_betas_key")),
    )
    with op.batch_alter_table("betas", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_betas_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("beta_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=254), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["beta_id"],
            ["betas.id"],
            name=op.f("fk_audit_entries_beta_id_betas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["token_id"], ["api_tokens.id"], name=op.f("fk_audit_entries_token_id_api_tokens")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_audit_entries_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_entries_beta_id"), ["beta_id"], unique=False)

    op.create_table(
        "cohorts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("beta_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "early_adopters",
                "random_sample",
                "manual",
                name="cohort_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("planned_size", sa.Integer(), nullable=True),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("created_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["beta_id"], ["betas.id"], name=op.f("fk_cohorts_beta_id_betas"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cohorts")),
        sa.UniqueConstraint("beta_id", "slug", name=op.f("uq_cohorts_beta_id_slug")),
    )
    op.create_table(
        "deadline_extensions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("beta_id", sa.Integer(), nullable=False),
        sa.Column("old_deadline", sa.Date(), nullable=False),
        sa.Column("new_deadline", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "new_deadline > old_deadline", name=op.f("ck_deadline_extensions_extends_later")
        ),
        sa.ForeignKeyConstraint(
            ["beta_id"],
            ["betas.id"],
            name=op.f("fk_deadline_extensions_beta_id_betas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_deadline_extensions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadline_extensions")),
    )
    with op.batch_alter_table("deadline_extensions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deadline_extensions_beta_id"), ["beta_id"], unique=False
        )

    op.create_table(
        "success_metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("beta_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "stage",
            sa.Enum(
                "awareness",
                "intent",
                "activation",
                "adoption",
                "engagement",
                "custom",
                name="metric_stage",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("target", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column(
            "unit",
            sa.Enum(
                "percent",
                "count",
                name="metric_unit",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "direction",
            sa.Enum(
                "at_least",
                "at_most",
                name="direction",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "unit <> 'percent' OR target <= 100",
            name=op.f("ck_success_metrics_percent_at_most_100"),
        ),
        sa.CheckConstraint("target >= 0", name=op.f("ck_success_metrics_target_not_negative")),
        sa.ForeignKeyConstraint(
            ["beta_id"],
            ["betas.id"],
            name=op.f("fk_success_metrics_beta_id_betas"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_success_metrics")),
    )
    with op.batch_alter_table("success_metrics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_success_metrics_beta_id"), ["beta_id"], unique=False)

    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("beta_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "invited",
                "active",
                "declined",
                "opted_out",
                "removed",
                name="membership_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("enrolled_by_id", sa.Integer(), nullable=True),
        sa.Column("enrolled_at", betas.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("notified_at", betas.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_memberships_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["beta_id"], ["betas.id"], name=op.f("fk_memberships_beta_id_betas"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["cohort_id"], ["cohorts.id"], name=op.f("fk_memberships_cohort_id_cohorts")
        ),
        sa.ForeignKeyConstraint(
            ["enrolled_by_id"], ["users.id"], name=op.f("fk_memberships_enrolled_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
        sa.UniqueConstraint(
            "beta_id", "account_id", name=op.f("uq_memberships_beta_id_account_id")
        ),
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memberships_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_memberships_cohort_id"), ["cohort_id"], unique=False)


def downgrade() -> None:
    """Undo the change."""
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memberships_cohort_id"))
        batch_op.drop_index(batch_op.f("ix_memberships_account_id"))

    op.drop_table("memberships")
    with op.batch_alter_table("success_metrics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_success_metrics_beta_id"))

    op.drop_table("success_metrics")
    with op.batch_alter_table("deadline_extensions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deadline_extensions_beta_id"))

    op.drop_table("deadline_extensions")
    op.drop_table("cohorts")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entries_beta_id"))

    op.drop_table("audit_entries")
    with op.batch_alter_table("betas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_betas_owner_id"))

    op.drop_table("betas")
    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_table("accounts")
