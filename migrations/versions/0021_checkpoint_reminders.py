"""Let reminders_sent hold checkpoint reminders: one per checkpoint, beside the deadline's.

A deadline reminder stays one a day per beta (now a unique index over the rows without a
checkpoint); a checkpoint reminder is one per checkpoint, whatever the day.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 12:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEADLINE_KINDS = ("week_before", "day_before", "overdue")
DEADLINE_ROWS = sa.text("checkpoint_id IS NULL")


def _kinds(kinds: Sequence[str]) -> str:
    return "kind IN (" + ", ".join(f"'{kind}'" for kind in kinds) + ")"


def upgrade() -> None:
    """Apply the change."""
    with op.batch_alter_table("reminders_sent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("checkpoint_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_reminders_sent_checkpoint_id_checkpoints"),
            "checkpoints",
            ["checkpoint_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_reminders_sent_checkpoint_id"), ["checkpoint_id"]
        )
        batch_op.drop_constraint(batch_op.f("uq_reminders_sent_beta_id_day"), type_="unique")
        batch_op.drop_constraint(batch_op.f("ck_reminders_sent_reminder_kind"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_reminders_sent_reminder_kind"), _kinds((*DEADLINE_KINDS, "checkpoint"))
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_reminders_sent_checkpoint_kind"),
            "(kind = 'checkpoint') = (checkpoint_id IS NOT NULL)",
        )
    with op.batch_alter_table("reminders_sent", schema=None) as batch_op:
        batch_op.create_index(
            "uq_reminders_sent_deadline",
            ["beta_id", "day"],
            unique=True,
            sqlite_where=DEADLINE_ROWS,
            postgresql_where=DEADLINE_ROWS,
        )


def downgrade() -> None:
    """Undo the change: the checkpoint reminders go, the deadline ones stay one a day per beta."""
    op.execute("DELETE FROM reminders_sent WHERE checkpoint_id IS NOT NULL")
    with op.batch_alter_table("reminders_sent", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_reminders_sent_deadline",
            sqlite_where=DEADLINE_ROWS,
            postgresql_where=DEADLINE_ROWS,
        )
    with op.batch_alter_table("reminders_sent", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_reminders_sent_checkpoint_kind"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_reminders_sent_reminder_kind"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_reminders_sent_reminder_kind"), _kinds(DEADLINE_KINDS)
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_reminders_sent_beta_id_day"), ["beta_id", "day"]
        )
        batch_op.drop_constraint(batch_op.f("uq_reminders_sent_checkpoint_id"), type_="unique")
        batch_op.drop_constraint(
            batch_op.f("fk_reminders_sent_checkpoint_id_checkpoints"), type_="foreignkey"
        )
        batch_op.drop_column("checkpoint_id")
