"""Keep each feedback item's reason as patterns group it, indexed to filter the log by it.

The key is the reason without case, punctuation or runs of spaces (feedback.models.reason_key);
items logged before this revision get theirs computed here, in Python, as the model does.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from feedback.models import reason_key

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ITEMS = sa.table(
    "feedback_items",
    sa.column("id", sa.Integer),
    sa.column("reason", sa.Text),
    sa.column("reason_key", sa.Text),
)


def upgrade() -> None:
    """Apply the change."""
    with op.batch_alter_table("feedback_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason_key", sa.Text(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_feedback_items_reason_key"), ["reason_key", "beta_id"], unique=False
        )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(ITEMS.c.id, ITEMS.c.reason).where(ITEMS.c.reason.is_not(None))
    ).all()
    if rows:
        connection.execute(
            ITEMS.update().where(ITEMS.c.id == sa.bindparam("item_id")),
            [{"item_id": row.id, "reason_key": reason_key(row.reason)} for row in rows],
        )


def downgrade() -> None:
    """Undo the change."""
    with op.batch_alter_table("feedback_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_items_reason_key"))
        batch_op.drop_column("reason_key")
