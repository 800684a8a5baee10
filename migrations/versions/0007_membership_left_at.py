"""Record when a membership left its beta, and why an account opted out.

left_at is set when a membership becomes opted_out, declined or removed, and cleared when it
rejoins; memberships that left before this revision get the time of their audit entry
(member.opted_out or member.declined), where there is one.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import betas.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The latest entry of the action that gave the membership its status: an account that opted
# out, was added back and opted out again left the second time.
BACKFILL = """
UPDATE memberships SET left_at = (
    SELECT MAX(audit_entries.created_at)
    FROM audit_entries JOIN accounts ON accounts.external_id = audit_entries.object_id
    WHERE audit_entries.object_type = 'Account'
      AND accounts.id = memberships.account_id
      AND audit_entries.beta_id = memberships.beta_id
      AND audit_entries.action = CASE memberships.status
          WHEN 'opted_out' THEN 'member.opted_out' ELSE 'member.declined' END
)
WHERE memberships.status IN ('opted_out', 'declined')
"""


def upgrade() -> None:
    """Apply the change."""
    op.add_column(
        "memberships",
        sa.Column("left_at", betas.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column("memberships", sa.Column("opt_out_reason", sa.Text(), nullable=True))
    op.execute(BACKFILL)


def downgrade() -> None:
    """Undo the change."""
    # Plain DROP COLUMN (SQLite 3.35+), as in 0004: nothing to recreate, nothing to cascade.
    op.drop_column("memberships", "opt_out_reason")
    op.drop_column("memberships", "left_at")
