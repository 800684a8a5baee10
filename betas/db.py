"""The database: declarative base, engine, one session per request, and the `db` commands.

SQLite runs in WAL mode with foreign keys on and a busy timeout. Requests that may write (any method
but GET, HEAD and OPTIONS, and the GETs marked `stores`) and CLI commands begin their transaction
IMMEDIATE, taking SQLite's write lock up front: a deferred transaction that later tries to write
can fail at once with "database is locked" when another process wrote in between, and no timeout
helps then. While another writer holds the lock, they ask for it again every millisecond, and
the one whose turn it is truncates a WAL grown past WAL_RESET_BYTES first.
"""

from __future__ import annotations

import collections
import enum
import functools
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app, g, has_request_context, request
from flask.cli import AppGroup
from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Enum,
    MetaData,
    Numeric,
    Result,
    String,
    Table,
    Text,
    TypeDecorator,
    bindparam,
    cast,
    column,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Full-text search objects that the migrations create by hand, differently on each database
# (an FTS5 table and its entries table on SQLite, the entries with a tsvector on PostgreSQL): no
# model describes them.
UNMAPPED_PREFIXES = ("part_search",)
ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"
# How long a statement waits for SQLite's locks before "database is locked"; and how often a
# write transaction asks again for the write lock meanwhile (`_begin_immediate`).
BUSY_TIMEOUT_MS = 30_000
WRITE_LOCK_POLL = 0.001
# Past this size the WAL is checkpointed and truncated before the next write transaction.
WAL_RESET_BYTES = 16 * 1024 * 1024


class Base(DeclarativeBase):
    """Base of every model, with one constraint naming convention for migrations."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC time on every database (SQLite forgets the zone on its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        """Refuse naive times; store aware ones in UTC."""
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime: Shipcall stores times in UTC only")
            value = value.astimezone(UTC)
        return value

    def bind_processor(self, dialect):
        """On SQLite, check and write a time in one step, as SQLAlchemy's DATETIME writes it.

        An ingest batch writes five thousand times; SQLAlchemy's own formatting cost more than
        the rest of binding them. The text is the same ("2026-10-02 14:30:00.000000"), so times
        written either way compare in SQL as they should.
        """
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value):
            if value is None:
                return None
            if value.tzinfo is not UTC:
                if value.tzinfo is None:
                    raise ValueError("naive datetime: Shipcall stores times in UTC only")
                value = value.astimezone(UTC)
            # Always six digits of microseconds; the "+00:00" cut off (a third less than
            # taking the zone off first and padding).
            return value.isoformat(" ", "microseconds")[:-6]

        return process

    def process_result_value(self, value, dialect):
        """Mark times read back as UTC."""
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class TimestampMixin:
    """Creation and last-change times, set by the database session, never at import."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


def enum_type(cls: type[enum.Enum], name: str) -> Enum:
    """Store an enum's values as text with a check constraint: portable, and easy to migrate."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def _sha1(text: str | None) -> bytes | None:
    """Return the SHA-1 digest of a text's UTF-8 bytes (SQLite's shipcall_sha1)."""
    return None if text is None else hashlib.sha1(text.encode()).digest()


Insert = sqlite.Insert | postgresql.Insert


def _json_ready(kind) -> Callable[[object], object] | None:
    """Return how a column's values go into a JSON document of rows (None: as they are)."""
    if isinstance(kind, UTCDateTime):

        def moment(value):
            if value is not None and value.tzinfo is None:
                raise ValueError("naive datetime: Shipcall stores times in UTC only")
            return None if value is None else value.isoformat()

        return moment
    if isinstance(kind, Numeric):
        return lambda value: None if value is None else str(value)
    return None


def insert_rows(
    session: Session,
    table: Table,
    rows: list[dict],
    complete: Callable[[Insert], Insert] = lambda insert: insert,
) -> Result:
    """Insert many rows with one INSERT of the session's dialect; return its result.

    `complete` adds to that INSERT what the caller needs: ON CONFLICT, RETURNING (the dialect's
    own insert has both). Every row has the same keys. PostgreSQL takes the rows as one JSON
    document, read back as a record set: a thousand rows as a multi-row VALUES cost psycopg more
    to parse and send than the database to insert, a plain executemany runs one statement per
    row, and one array per column (unnested) had psycopg quote every element in Python. The
    record set declares the columns' types, though text without a length: casting to
    varchar(n) cuts silently, and the insert refuses a value too long instead. SQLite takes the
    rows as an executemany (a multi-row VALUES when RETURNING is asked).
    """
    if session.get_bind().dialect.name != "postgresql":
        return session.execute(complete(sqlite.insert(table)), rows)
    names = list(rows[0])
    kinds = [Text() if isinstance(table.c[name].type, String) else table.c[name].type
             for name in names]  # fmt: skip
    ready = [(name, convert) for name in names if (convert := _json_ready(table.c[name].type))]
    if ready:
        rows = [{**row, **{name: convert(row[name]) for name, convert in ready}} for row in rows]
    source = (
        func.json_to_recordset(bindparam("rows", rows, type_=postgresql.JSON))
        .table_valued(*(column(name, kind) for name, kind in zip(names, kinds, strict=True)))
        .render_derived(name="given", with_types=True)
    )
    insert = complete(postgresql.insert(table).from_select(names, select(source)))
    return session.execute(insert)


def write_rows(
    session: Session,
    table: Table,
    rows: list[dict],
    complete: Callable[[Insert], Insert] = lambda insert: insert,
) -> int:
    """Insert many rows with one INSERT without RETURNING; return how many it wrote.

    As insert_rows, and every column with a default must be given. SQLite runs the statement
    as the driver's own executemany (`exec_driver_sql`) over tuples made by the columns' bind
    processors, so the values stored are those SQLAlchemy stores (UTCDateTime's text, the JSON
    serializer's): SQLAlchemy's executemany spent more of an ingest batch on a parameter dict
    a row than SQLite spent inserting the rows. The count sums what each row wrote: a row
    skipped by ON CONFLICT DO NOTHING counts 0, one that DO UPDATE changed counts 1.
    """
    # SQLAlchemy keeps an INSERT's rowcount only when told to.
    counted = {"preserve_rowcount": True}
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        return insert_rows(
            session, table, rows, lambda insert: complete(insert).execution_options(**counted)
        ).rowcount
    compiled = complete(sqlite.insert(table)).compile(
        dialect=bind.dialect, column_keys=list(rows[0])
    )
    names = compiled.positiontup
    converts = [table.c[name].type.dialect_impl(bind.dialect).bind_processor(bind.dialect)
                for name in names]  # fmt: skip
    # Column by column: a processor mapped over a column costs less than a test per value.
    columns = [[row[name] for row in rows] for name in names]
    columns = [values if convert is None else list(map(convert, values))
               for values, convert in zip(columns, converts, strict=True)]  # fmt: skip
    values = list(zip(*columns, strict=True))
    connection = session.connection()
    return connection.exec_driver_sql(compiled.string, values, counted).rowcount


@functools.cache
def _row_shape(names: tuple[str, ...]) -> type[tuple]:
    """Return a named tuple type of these fields: rows given back read like rows read."""
    return collections.namedtuple("Inserted", names)


def insert_new(
    session: Session, table: Table, rows: list[dict], unique: str, returning: tuple[str, ...]
) -> Sequence[tuple]:
    """Insert the rows whose `unique` column's value is not stored yet; return theirs.

    What is returned: the `returning` columns of each row inserted. PostgreSQL has ON CONFLICT
    DO NOTHING RETURNING. On SQLite the rows go in through write_rows, which cannot return
    rows; when it wrote them all (the common case) they are the rows given, when it wrote some
    they are read back as those after the greatest `id` before the insert: a new row of a table
    with an integer key gets a greater rowid, and no other connection inserts in between, as
    the transaction holds SQLite's write lock from that read on (a write session begins
    IMMEDIATE; a deferred one that another connection wrote in between fails, "database is
    locked", and returns nothing wrong).
    """
    columns = [table.c[name] for name in returning]
    skip = {"index_elements": [table.c[unique]]}
    if session.get_bind().dialect.name == "postgresql":
        return insert_rows(
            session,
            table,
            rows,
            lambda insert: insert.on_conflict_do_nothing(**skip).returning(*columns),
        ).all()
    before = session.scalar(select(func.max(table.c.id)))
    written = write_rows(session, table, rows, lambda insert: insert.on_conflict_do_nothing(**skip))
    if written == len(rows):
        shape = _row_shape(returning)
        return [shape._make(map(row.__getitem__, returning)) for row in rows]
    if not written:
        return []
    newer = table.c.id > before if before is not None else table.c.id.is_not(None)
    return session.execute(select(*columns).where(newer).order_by(table.c.id)).all()


def among(session: Session, column: ColumnElement, values: Iterable) -> ColumnElement[bool]:
    """Return `column IN (values)`; on PostgreSQL with the values as one JSON array parameter.

    A thousand values as a thousand parameters cost more to render, and for psycopg to parse,
    than the query itself. The array's elements are read as text, then as the column's type
    (text of any length for a string: a cut value could match another row), in a semi-join
    `IN (SELECT ...)`: the planner looks each value up in the column's index, or hashes them
    and scans a table small enough; either way linear. `= ANY (array(SELECT ...))` was not: the
    planner takes the array for a few elements and, on a table of a few thousand rows, picks a
    scan that compares every row with every value (65 ms for 1,000 ids against 7,000 accounts,
    where the semi-join takes 1 ms).
    """
    values = list(values)
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(values)
    elements = func.json_array_elements_text(
        bindparam(None, values, type_=postgresql.JSON)
    ).table_valued("value")
    kind = Text() if isinstance(column.type, String) else column.type
    return column.in_(select(cast(elements.c.value, kind)))


def _file_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def _begin_immediate(dbapi_connection: sqlite3.Connection, wal: str | None) -> None:
    """BEGIN IMMEDIATE, asking again for the write lock every millisecond while it is taken.

    SQLite's own busy handler sleeps in growing steps (5, 10, 15, 20, 25 ms, then 50 and 100):
    a writer queued behind another (an ingest batch holds the lock some 50 ms) woke on average
    several milliseconds after the lock was free, and the lock stayed idle meanwhile. Asking
    every millisecond, up to the same timeout, costs a few microseconds a try.

    A WAL over WAL_RESET_BYTES is first checkpointed and truncated, by the writer whose turn it
    is: the checkpoint waits for no one (without the write lock or while a reader reads, it
    copies what it can and says busy, and the writer begins all the same). Left to SQLite's
    checkpoints after each commit, the WAL never started over while writers followed each
    other, as the next writer had always begun before the checkpoint was done: 2 GB in a 10 s
    ingest run, every read looking pages up in a longer index of it.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    dbapi_connection.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                if wal is not None and _file_size(wal) > WAL_RESET_BYTES:
                    dbapi_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                dbapi_connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                busy = exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() >= deadline:
                    raise
            time.sleep(WRITE_LOCK_POLL)
    finally:
        dbapi_connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def create_db_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys, a busy timeout and explicit BEGINs."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    wal = f"{parsed.database}-wal" if parsed.database and parsed.database != ":memory:" else None

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, issue BEGIN, so its kind can be chosen below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # No checkpoint after a commit: it would take the checkpoint's lock just when the next
        # writer truncates the WAL (`_begin_immediate`), and the WAL would never start over.
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        # Savepoint journals (a long import writes one per batch) stay in memory, not in files.
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()
        # PostgreSQL's shipcall_sha1 comes from migration 0006; SQLite's is Python's.
        dbapi_connection.create_function("shipcall_sha1", 1, _sha1, deterministic=True)

    @event.listens_for(engine, "begin")
    def _begin(connection):
        if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return  # each statement is its own transaction: never hold a snapshot open
        # Straight to the driver: SQLAlchemy's own execution path would cost more than the BEGIN.
        dbapi_connection = connection.connection.dbapi_connection
        if connection.get_execution_options().get("sqlite_begin") == "IMMEDIATE":
            _begin_immediate(dbapi_connection, wal)
        else:
            dbapi_connection.execute("BEGIN")

    return engine


# A session's info holds the zone whose days the usage rollup counts in (SHIPCALL_TIMEZONE),
# for what runs inside its flush, where no caller can pass it.
ZONE = "zone"


class Database:
    """The engine and the sessions made from it; each session knows the configured zone."""

    def __init__(self, url: str, zone: tzinfo = UTC):
        self.engine = create_db_engine(url)
        self.zone = zone
        self._readers = threading.local()
        # id() of a statement given to read_row() -> its SQL and positional names.
        self._sql: dict[int, tuple[str, tuple[str, ...] | None]] = {}
        self.bind_sessions(self.engine)

    def bind_sessions(self, bind, **options) -> None:
        """Make sessions on `bind` (tests bind them to one connection rolled back at the end)."""
        self._factory = sessionmaker(bind=bind, expire_on_commit=False, **options)
        writer = bind.execution_options(sqlite_begin="IMMEDIATE") if bind is self.engine else bind
        self._writer = writer
        self._bound = None if bind is self.engine else bind

    def read(self, statement, params: dict):
        """Run one read-only statement on this thread's standing autocommit connection.

        For the product's hot path (its token, then "is this account in that beta?"): a session
        per request costs more than the query, so one connection per thread stays open, reading
        in autocommit, and each statement sees everything committed before it. A broken
        connection (a database restart) is replaced once.
        """
        if self._bound is not None:
            return self._bound.execute(statement, params)
        try:
            return self._reader().execute(statement, params)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            self._readers.connection.close()
            self._readers.connection = None
            return self._reader().execute(statement, params)

    def read_row(self, statement, params: dict) -> tuple | None:
        """Return the first row of a read-only statement as the driver gives it, or None.

        The membership check's path, on the same standing connection as read(). SQLAlchemy's
        result handling costs more than the query itself (90 of 250 µs on PostgreSQL), so the
        statement is compiled once and runs on the driver's cursor: its columns must need no
        conversion (integers and strings), and its values be plain.
        """
        sql, names = self._plain_sql(statement)
        values = params if names is None else tuple(params[name] for name in names)
        if self._bound is not None:
            return _first_row(self._bound, sql, values)
        connection = self._reader()
        try:
            return _first_row(connection, sql, values)
        except self.engine.dialect.loaded_dbapi.Error as exc:
            dbapi_connection = connection.connection.dbapi_connection
            if not self.engine.dialect.is_disconnect(exc, dbapi_connection, None):
                raise
            connection.invalidate(exc)
            connection.close()
            self._readers.connection = None
            return _first_row(self._reader(), sql, values)

    def _plain_sql(self, statement) -> tuple[str, tuple[str, ...] | None]:
        """Return a statement's SQL for the driver and, for positional drivers, its names."""
        known = self._sql.get(id(statement))
        if known is None:
            compiled = statement.compile(dialect=self.engine.dialect)
            positions = compiled.positiontup
            known = self._sql[id(statement)] = (
                compiled.string,
                None if positions is None else tuple(positions),
            )
        return known

    def _reader(self) -> Connection:
        if getattr(self._readers, "connection", None) is None:
            self._readers.connection = self.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            )
        return self._readers.connection

    def session(self, *, write: bool = True) -> Session:
        """Open a session; `write` sessions take SQLite's write lock when they begin."""
        if write:
            return self._factory(bind=self._writer, info={"write": True, ZONE: self.zone})
        return self._factory(info={"write": False, ZONE: self.zone})


def _first_row(connection: Connection, sql: str, values) -> tuple | None:
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql, values)
        return cursor.fetchone()
    finally:
        cursor.close()


def get_database() -> Database:
    """Return the app's database."""
    return current_app.extensions["shipcall.db"]


def read_only(view):
    """Mark a view whose POST only reads (a search, a preview): no SQLite write lock for it."""
    view.reads_only = True
    return view


def stores(view):
    """Mark a view whose GET stores what it computed (metric values): SQLite's write lock for it."""
    view.stores = True
    return view


def _request_reads_only() -> bool:
    view = current_app.view_functions.get(request.endpoint)
    if request.method in SAFE_METHODS:
        return not getattr(view, "stores", False)
    return getattr(view, "reads_only", False)


def get_session() -> Session:
    """Return this request's (or CLI command's) session, opening it on first use."""
    if "db_session" not in g:
        write = not (has_request_context() and _request_reads_only())
        g.db_session = get_database().session(write=write)
    return g.db_session


def end_reads(session: Session) -> None:
    """End the session's transaction before a slow call outside it (Google's, with retries).

    Only for a session that has written nothing yet. On SQLite a write request's transaction
    holds the write lock from its first statement on, and would keep every other writer waiting
    for as long; what was loaded stays loaded (sessions keep their objects on commit), and the
    next statement begins a new transaction.
    """
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("end_reads: the session has changes to write")
    session.commit()


def _close_session(_exc=None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def include_in_schema_compare(obj, name, type_, reflected, compare_to) -> bool:
    """Tell Alembic's comparison to leave the hand-made search objects alone."""
    return not (name or "").startswith(UNMAPPED_PREFIXES)


def alembic_config(url: str) -> Config:
    """Return the Alembic configuration pointed at `url`."""
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(ALEMBIC_INI.parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


db_cli = AppGroup("db", help="Migrate the database schema.")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def upgrade_command(revision):
    """Upgrade the schema to REVISION (default: the newest)."""
    command.upgrade(alembic_config(current_app.config["SHIPCALL"].database_url), revision)


@db_cli.command("downgrade")
@click.argument("revision", default="-1")
def downgrade_command(revision):
    """Downgrade the schema to REVISION (default: one step back)."""
    command.downgrade(alembic_config(current_app.config["SHIPCALL"].database_url), revision)


@db_cli.command("current")
def current_command():
    """Show the schema's current revision."""
    command.current(alembic_config(current_app.config["SHIPCALL"].database_url), verbose=True)


@db_cli.command("check")
def check_command():
    """Fail when the models hold a change that no revision describes."""
    command.check(alembic_config(current_app.config["SHIPCALL"].database_url))


def init_app(app: Flask, url: str, zone: tzinfo = UTC) -> None:
    """Attach the database to the app: engine, request sessions, `db` commands."""
    app.extensions["shipcall.db"] = Database(url, zone)
    app.teardown_appcontext(_close_session)
    app.cli.add_command(db_cli)
