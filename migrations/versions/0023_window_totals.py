"""Forget the stored membership totals: from now on they are kept for every metric.

Those stored before held the since-joined metrics' only; an update of today would read the
window metrics' as none. The next request computes from the stale day and stores them all.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 14:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the change."""
    op.execute("DELETE FROM membership_totals")
    op.execute("UPDATE values_marks SET totals_through = NULL")


def downgrade() -> None:
    """Undo the change: the window metrics' totals go (the code before does not read them)."""
    op.execute("DELETE FROM membership_totals")
    op.execute("UPDATE values_marks SET totals_through = NULL")
