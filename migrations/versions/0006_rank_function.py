"""Rank accounts for random samples in the database: shipcall_sha1(text) on PostgreSQL.

A sample ranks every account of a pool by SHA-1 and keeps the lowest; hashing in the database
spares streaming a million external ids to Python. SQLite gets the same function from Python
on each connection (betas.db), so both databases rank alike.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 02:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSTGRES_UP = [
    # pgcrypto is a trusted extension (PostgreSQL 13+): a database owner may create it.
    "CREATE EXTENSION IF NOT EXISTS pgcrypto",
    # The digest of the text's UTF-8 bytes, whatever the database's encoding, as Python's
    # hashlib.sha1(text.encode()) gives it. STABLE, as convert_to() is: PostgreSQL then inlines
    # the body into the query instead of calling a function per account, which costs twice as much.
    "CREATE FUNCTION shipcall_sha1(text) RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE "
    "STRICT AS $$ SELECT public.digest(convert_to($1, 'UTF8'), 'sha1') $$",
]
POSTGRES_DOWN = ["DROP FUNCTION shipcall_sha1(text)"]


def upgrade() -> None:
    """Apply the change."""
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_UP:
            op.execute(statement)


def downgrade() -> None:
    """Undo the change."""
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_DOWN:
            op.execute(statement)
