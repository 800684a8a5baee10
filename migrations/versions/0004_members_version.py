"""Count changes to a beta's memberships, for the member list's ETag.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 14:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the change."""
    op.add_column(
        "betas", sa.Column("members_version", sa.Integer(), server_default="0", nullable=False)
    )


def downgrade() -> None:
    """Undo the change."""
    # A plain DROP COLUMN (SQLite 3.35+): recreating the table, as batch mode would, drops it
    # first, and with foreign keys on that would cascade to every row that refers to a beta.
    op.drop_column("betas", "members_version")
