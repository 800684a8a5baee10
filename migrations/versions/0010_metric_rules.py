"""Give each success metric a rule over usage events; metrics from before have none.

A metric without a rule reads as "not instrumented", and a draft cannot launch while one has
none (betas.lifecycle.metrics_instrumented).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the change."""
    op.add_column("success_metrics", sa.Column("rule", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Undo the change."""
    # Plain DROP COLUMN (SQLite 3.35+), as in 0007: nothing to recreate, nothing to cascade.
    op.drop_column("success_metrics", "rule")
