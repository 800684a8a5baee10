"""Keep, beside the search index, a narrow row per customer part: its conversation, account, time.

Ranking accounts groups every matching part by account. Reading the conversation and the account
from conversation_parts (wide: the bodies are there) and conversations cost two lookups per part,
most of a search's time when 100,000 parts match. part_search_entries holds just what the ranking
reads, for customer parts only; on PostgreSQL it holds the tsvector too (the whole index is then
a table small enough to stay in memory), replacing the generated column of conversation_parts.
Triggers keep it in step with every write to the parts, and with a conversation's account.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 16:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_ENTRY = (
    "INSERT INTO part_search_entries(part_id, conversation_id, account_id, created_at) "
    "SELECT new.id, new.conversation_id, account_id, new.created_at FROM conversations "
    "WHERE id = new.conversation_id"
)
SQLITE_UP = [
    "CREATE TABLE part_search_entries (part_id INTEGER PRIMARY KEY, "
    "conversation_id INTEGER NOT NULL, account_id INTEGER NOT NULL, created_at DATETIME NOT NULL)",
    "CREATE INDEX part_search_entries_conversation ON part_search_entries (conversation_id)",
    "INSERT INTO part_search_entries(part_id, conversation_id, account_id, created_at) "
    "SELECT p.id, p.conversation_id, c.account_id, p.created_at FROM conversation_parts p "
    "JOIN conversations c ON c.id = p.conversation_id WHERE p.author = 'customer'",
    "DROP TRIGGER part_search_insert",
    "DROP TRIGGER part_search_delete",
    "DROP TRIGGER part_search_update",
    "CREATE TRIGGER part_search_insert AFTER INSERT ON conversation_parts "
    "WHEN new.author = 'customer' BEGIN "
    f"INSERT INTO part_search(rowid, body) VALUES (new.id, new.body); {_SQLITE_ENTRY}; END",
    "CREATE TRIGGER part_search_delete AFTER DELETE ON conversation_parts "
    "WHEN old.author = 'customer' BEGIN "
    "INSERT INTO part_search(part_search, rowid, body) VALUES ('delete', old.id, old.body); "
    "DELETE FROM part_search_entries WHERE part_id = old.id; END",
    # A changed part must leave the index as if the part were deleted and added again.
    "CREATE TRIGGER part_search_update "
    "AFTER UPDATE OF body, author, conversation_id, created_at ON conversation_parts BEGIN "
    "INSERT INTO part_search(part_search, rowid, body) SELECT 'delete', old.id, old.body "
    "WHERE old.author = 'customer'; "
    "DELETE FROM part_search_entries WHERE part_id = old.id; "
    "INSERT INTO part_search(rowid, body) SELECT new.id, new.body WHERE new.author = 'customer'; "
    f"{_SQLITE_ENTRY} AND new.author = 'customer'; END",
    "CREATE TRIGGER part_search_account AFTER UPDATE OF account_id ON conversations "
    "WHEN old.account_id <> new.account_id BEGIN "
    "UPDATE part_search_entries SET account_id = new.account_id WHERE conversation_id = new.id; "
    "END",
]
# 0003's triggers, which fed the FTS5 table alone.
SQLITE_DOWN = [
    "DROP TRIGGER part_search_account",
    "DROP TRIGGER part_search_update",
    "DROP TRIGGER part_search_delete",
    "DROP TRIGGER part_search_insert",
    "CREATE TRIGGER part_search_insert AFTER INSERT ON conversation_parts "
    "WHEN new.author = 'customer' BEGIN "
    "INSERT INTO part_search(rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER part_search_delete AFTER DELETE ON conversation_parts "
    "WHEN old.author = 'customer' BEGIN "
    "INSERT INTO part_search(part_search, rowid, body) VALUES ('delete', old.id, old.body); END",
    "CREATE TRIGGER part_search_update AFTER UPDATE OF body, author ON conversation_parts BEGIN "
    "INSERT INTO part_search(part_search, rowid, body) SELECT 'delete', old.id, old.body "
    "WHERE old.author = 'customer'; "
    "INSERT INTO part_search(rowid, body) SELECT new.id, new.body WHERE new.author = 'customer'; "
    "END",
    "DROP TABLE part_search_entries",
]

_POSTGRES_ENTRIES = (
    "INSERT INTO part_search_entries(part_id, conversation_id, account_id, created_at, vector) "
    "SELECT p.id, p.conversation_id, c.account_id, p.created_at, "
    "to_tsvector('english'::regconfig, shipcall_unaccent(p.body)) FROM {parts} p "
    "JOIN conversations c ON c.id = p.conversation_id WHERE p.author = 'customer'"
)
POSTGRES_UP = [
    "CREATE TABLE part_search_entries (part_id integer PRIMARY KEY, "
    "conversation_id integer NOT NULL, account_id integer NOT NULL, "
    "created_at timestamp with time zone NOT NULL, vector tsvector NOT NULL)",
    "CREATE INDEX part_search_entries_conversation ON part_search_entries (conversation_id)",
    _POSTGRES_ENTRIES.format(parts="conversation_parts"),
    "CREATE INDEX part_search_entries_vector ON part_search_entries USING gin (vector)",
    "DROP INDEX ix_conversation_parts_search",
    "ALTER TABLE conversation_parts DROP COLUMN search_vector",
    # Statement triggers with transition tables: an import's batch of a thousand parts costs one
    # INSERT ... SELECT, not a thousand function calls. plpgsql plans each statement when it
    # first runs, so a branch may name a transition table that only some triggers define.
    "CREATE FUNCTION part_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF TG_OP IN ('DELETE', 'UPDATE') THEN "
    "DELETE FROM part_search_entries e USING removed r WHERE e.part_id = r.id; END IF; "
    "IF TG_OP IN ('INSERT', 'UPDATE') THEN "
    f"{_POSTGRES_ENTRIES.format(parts='added')}; END IF; "
    "RETURN NULL; END $$",
    "CREATE TRIGGER part_search_insert AFTER INSERT ON conversation_parts "
    "REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION part_search_sync()",
    "CREATE TRIGGER part_search_delete AFTER DELETE ON conversation_parts "
    "REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION part_search_sync()",
    "CREATE TRIGGER part_search_update AFTER UPDATE ON conversation_parts "
    "REFERENCING OLD TABLE AS removed NEW TABLE AS added "
    "FOR EACH STATEMENT EXECUTE FUNCTION part_search_sync()",
    "CREATE FUNCTION part_search_account() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "UPDATE part_search_entries e SET account_id = n.account_id FROM added n "
    "JOIN removed o ON o.id = n.id "
    "WHERE e.conversation_id = n.id AND n.account_id <> o.account_id; RETURN NULL; END $$",
    "CREATE TRIGGER part_search_account AFTER UPDATE ON conversations "
    "REFERENCING OLD TABLE AS removed NEW TABLE AS added "
    "FOR EACH STATEMENT EXECUTE FUNCTION part_search_account()",
]
# 0003's generated column and its index.
POSTGRES_DOWN = [
    "DROP TRIGGER part_search_account ON conversations",
    "DROP FUNCTION part_search_account()",
    "DROP TRIGGER part_search_update ON conversation_parts",
    "DROP TRIGGER part_search_delete ON conversation_parts",
    "DROP TRIGGER part_search_insert ON conversation_parts",
    "DROP FUNCTION part_search_sync()",
    "DROP TABLE part_search_entries",
    "ALTER TABLE conversation_parts ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
    "(CASE WHEN author = 'customer' THEN to_tsvector('english'::regconfig, "
    "shipcall_unaccent(body)) END) STORED",
    "CREATE INDEX ix_conversation_parts_search ON conversation_parts USING gin (search_vector)",
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
