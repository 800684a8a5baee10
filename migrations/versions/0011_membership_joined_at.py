"""Record when a membership first became active: its account's usage counts from then.

joined_at is set at enrollment in a low-risk beta and at acceptance in a high-risk one (and at a
rejoin only if it was never active), and never moves later. Memberships that are or were
active before this revision get their acceptance time (the member.accepted audit entry) where
the beta is high-risk and there is one, and their enrollment time otherwise; a declined one, or
one that left while still invited to a high-risk beta, never joined.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import betas.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACCEPTED = """
    SELECT MIN(audit_entries.created_at)
    FROM audit_entries JOIN accounts ON accounts.external_id = audit_entries.object_id
    WHERE audit_entries.object_type = 'Account'
      AND audit_entries.action = 'member.accepted'
      AND accounts.id = memberships.account_id
      AND audit_entries.beta_id = memberships.beta_id
"""
LOW_RISK = "SELECT risk FROM betas WHERE betas.id = memberships.beta_id"
BACKFILL = f"""
UPDATE memberships SET joined_at = CASE
    WHEN ({LOW_RISK}) = 'low' THEN enrolled_at
    ELSE COALESCE(({ACCEPTED}), CASE WHEN status = 'active' THEN enrolled_at END)
END
WHERE status IN ('active', 'opted_out', 'removed')
"""


def upgrade() -> None:
    """Apply the change."""
    op.add_column(
        "memberships",
        sa.Column("joined_at", betas.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    """Undo the change."""
    # Plain DROP COLUMN (SQLite 3.35+), as in 0007: nothing to recreate, nothing to cascade.
    op.drop_column("memberships", "joined_at")
