"""Index customer-written conversation text for search: FTS5 on SQLite, tsvector on PostgreSQL.

Only parts authored by the customer are indexed: a teammate's reply that mentions a feature is not
evidence that the customer asked for it. Both indexes stem English words and ignore case and
accents, so the finder gives the same accounts on either database.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 14:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UP = [
    # External content: the text stays in conversation_parts; the index holds only the terms.
    "CREATE VIRTUAL TABLE part_search USING fts5(body, content='conversation_parts', "
    "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER part_search_insert AFTER INSERT ON conversation_parts "
    "WHEN new.author = 'customer' BEGIN "
    "INSERT INTO part_search(rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER part_search_delete AFTER DELETE ON conversation_parts "
    "WHEN old.author = 'customer' BEGIN "
    "INSERT INTO part_search(part_search, rowid, body) VALUES ('delete', old.id, old.body); END",
    # A changed body or author must leave the index as if the part were deleted and re-added.
    "CREATE TRIGGER part_search_update AFTER UPDATE OF body, author ON conversation_parts BEGIN "
    "INSERT INTO part_search(part_search, rowid, body) SELECT 'delete', old.id, old.body "
    "WHERE old.author = 'customer'; "
    "INSERT INTO part_search(rowid, body) SELECT new.id, new.body WHERE new.author = 'customer'; "
    "END",
    "INSERT INTO part_search(rowid, body) "
    "SELECT id, body FROM conversation_parts WHERE author = 'customer'",
]
SQLITE_DOWN = [
    "DROP TRIGGER part_search_update",
    "DROP TRIGGER part_search_delete",
    "DROP TRIGGER part_search_insert",
    "DROP TABLE part_search",
]
POSTGRES_UP = [
    # unaccent is a trusted extension (PostgreSQL 13+): a database owner may create it.
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    # unaccent() is only STABLE; a generated column needs an IMMUTABLE function, and pinning the
    # dictionary makes this one so.
    "CREATE FUNCTION shipcall_unaccent(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE "
    "STRICT AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$",
    "ALTER TABLE conversation_parts ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
    "(CASE WHEN author = 'customer' THEN to_tsvector('english'::regconfig, "
    "shipcall_unaccent(body)) END) STORED",
    "CREATE INDEX ix_conversation_parts_search ON conversation_parts USING gin (search_vector)",
]
POSTGRES_DOWN = [
    "DROP INDEX ix_conversation_parts_search",
    "ALTER TABLE conversation_parts DROP COLUMN search_vector",
    "DROP FUNCTION shipcall_unaccent(text)",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    """Apply the change."""
    _run(SQLITE_UP if op.get_bind().dialect.name == "sqlite" else POSTGRES_UP)


def downgrade() -> None:
    """Undo the change."""
    _run(SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else POSTGRES_DOWN)
