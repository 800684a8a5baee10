"""The database layer: SQLite settings, and writers that never meet "database is locked"."""

import os
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError

from betas import db as db_module
from betas.db import (
    BUSY_TIMEOUT_MS,
    Database,
    UTCDateTime,
    among,
    end_reads,
    get_session,
    insert_new,
    insert_rows,
    write_rows,
)
from cohorts.models import Account
from tests.helpers import is_postgres


@pytest.fixture
def sqlite_file(database_url, tmp_path):
    if is_postgres(database_url):
        pytest.skip("SQLite's locking only matters on SQLite")
    return f"sqlite:///{tmp_path / 'locking.db'}"


def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(sqlite_file):
    database = Database(sqlite_file)
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    database.engine.dispose()


def test_concurrent_read_then_write_transactions_never_see_database_is_locked(sqlite_file):
    # Each writer reads, then writes, in one transaction, as a request does. Begun deferred, two
    # such transactions deadlock and SQLite fails one at once; begun IMMEDIATE, they queue.
    setup = Database(sqlite_file)
    with setup.engine.begin() as conn:
        conn.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO counter VALUES (0)"))
    errors = []

    def writer():
        database = Database(sqlite_file)
        try:
            for _ in range(40):
                with database.session(write=True) as session:
                    n = session.execute(text("SELECT n FROM counter")).scalar()
                    session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
                    session.commit()
        except Exception as exc:  # any failure is the finding
            errors.append(exc)
        finally:
            database.engine.dispose()

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with setup.engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM counter")).scalar() == 160
    setup.engine.dispose()


def test_end_reads_lets_other_writers_in_before_a_slow_call(sqlite_file):
    database = Database(sqlite_file)
    with database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
    other = sqlite3.connect(sqlite_file.removeprefix("sqlite:///"), timeout=0)
    with database.session(write=True) as session:
        session.execute(text("SELECT count(*) FROM counter"))  # BEGIN IMMEDIATE: the write lock
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("INSERT INTO counter VALUES (1)")
        end_reads(session)
        other.execute("INSERT INTO counter VALUES (2)")  # at once: no lock held
        other.commit()
        assert session.execute(text("SELECT n FROM counter")).scalars().all() == [2]
    other.close()
    database.engine.dispose()


def test_end_reads_refuses_a_session_with_changes_to_write(db):
    db.add(Account(external_id="unwritten", name="", attributes={}))
    with pytest.raises(RuntimeError, match="changes to write"):
        end_reads(db)


def hold_the_write_lock(url: str, seconds: float) -> tuple[threading.Thread, dict]:
    """Start a thread that holds SQLite's write lock for `seconds`; return it and its times."""
    times = {}
    begun = threading.Event()

    def hold():
        database = Database(url)
        with database.session() as session:
            session.connection()  # BEGIN IMMEDIATE
            begun.set()
            time.sleep(seconds)
            session.commit()
            times["released"] = time.monotonic()
        database.engine.dispose()

    thread = threading.Thread(target=hold)
    thread.start()
    begun.wait(5)
    return thread, times


def test_a_writer_queued_behind_another_takes_the_lock_as_soon_as_it_is_free(sqlite_file):
    # SQLite's busy handler would wake at 53 then 78 ms: some 18 ms after a 60 ms hold ends.
    database = Database(sqlite_file)
    holder, times = hold_the_write_lock(sqlite_file, 0.06)
    with database.session() as session:
        session.connection()
        taken = time.monotonic()
    holder.join()
    assert taken - times["released"] < 0.008
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == BUSY_TIMEOUT_MS
    database.engine.dispose()


def test_a_writer_still_gives_up_with_database_is_locked_after_the_timeout(
    sqlite_file, monkeypatch
):
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 50)
    database = Database(sqlite_file)
    holder, _times = hold_the_write_lock(sqlite_file, 0.5)
    began = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        with database.session() as session:
            session.connection()
    assert 0.05 <= time.monotonic() - began < 0.4
    holder.join()
    database.engine.dispose()


def test_the_wal_starts_over_while_writers_follow_each_other(sqlite_file, monkeypatch):
    # Each writer begins as soon as the other commits, as gunicorn's workers do under load.
    monkeypatch.setattr(db_module, "WAL_RESET_BYTES", 256 * 1024)
    setup = Database(sqlite_file)
    with setup.engine.begin() as conn:
        conn.execute(text("CREATE TABLE blobs (data BLOB NOT NULL)"))
    setup.engine.dispose()
    wal = Path(make_url(sqlite_file).database + "-wal")
    errors, sizes = [], []

    def writer():
        database = Database(sqlite_file)
        try:
            for _ in range(40):
                with database.session() as session:
                    rows = [{"data": os.urandom(16 * 1024)} for _ in range(8)]
                    session.execute(text("INSERT INTO blobs VALUES (:data)"), rows)
                    session.commit()
                sizes.append(wal.stat().st_size)
        except Exception as exc:  # any failure is the finding
            errors.append(exc)
        finally:
            database.engine.dispose()

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # 10 MB were written: the WAL holds the threshold and a few transactions (7 to 10 MB when
    # it never started over).
    assert max(sizes) < 3 * 1024 * 1024


def test_requests_that_may_write_take_the_write_lock_and_reads_do_not(app):
    for method, write in [("GET", False), ("HEAD", False), ("POST", True), ("PATCH", True)]:
        with app.test_request_context("/", method=method):
            assert get_session().info["write"] is write


def test_a_view_marked_read_only_reads_even_when_posted_to(app):
    with app.test_request_context("/api/v1/betas/x/adopter-search", method="POST"):
        assert get_session().info["write"] is False
    with app.test_request_context("/api/v1/betas/x/launch", method="POST"):
        assert get_session().info["write"] is True


def test_a_get_marked_stores_takes_the_write_lock(app):
    with app.test_request_context("/betas/x/metrics", method="GET"):
        assert get_session().info["write"] is True
    with app.test_request_context("/betas/x/checkpoints/1", method="GET"):
        assert get_session().info["write"] is True
    with app.test_request_context("/betas/x/instrumentation", method="GET"):
        assert get_session().info["write"] is False


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 10, 2, 14, 30, tzinfo=UTC),
        datetime(2026, 10, 2, 14, 30, 5, 120, tzinfo=UTC),
        datetime(2026, 10, 2, 23, 30, 0, 999_999, tzinfo=ZoneInfo("America/New_York")),
        datetime(999, 1, 1, tzinfo=ZoneInfo("Europe/London")),
        datetime(2026, 10, 2, 14, 30, tzinfo=ZoneInfo("UTC")),
        datetime(2026, 10, 2, 14, 30, 0, 1, tzinfo=timezone(timedelta(0))),
    ],
)
def test_sqlite_writes_a_time_as_sqlalchemys_datetime_does(moment):
    dialect = sqlite.dialect()
    theirs = DateTime().dialect_impl(dialect).bind_processor(dialect)
    ours = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert ours(moment) == theirs(moment.astimezone(UTC))
    with pytest.raises(ValueError, match="naive"):
        ours(moment.replace(tzinfo=None))


@pytest.mark.parametrize("read", ["read", "read_row"])
def test_the_standing_reader_replaces_a_connection_the_server_dropped(database_url, read):
    if not is_postgres(database_url):
        pytest.skip("Only a database server drops connections")
    database = Database(database_url)
    backend = select(func.pg_backend_pid())

    def pid() -> int:
        if read == "read":
            return database.read(backend, {}).scalar()
        return database.read_row(backend, {})[0]

    first = pid()
    with database.engine.connect() as admin:
        admin.execute(select(func.pg_terminate_backend(first)))
    assert pid() != first
    database.engine.dispose()


# Many rows in one INSERT of the session's dialect

SCRATCH = MetaData()
WORDS = Table(
    "insert_rows_words",
    SCRATCH,
    Column("id", Integer, primary_key=True),
    Column("word", String(5), unique=True, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
    Column("notes", JSON),
)


@pytest.fixture
def words(db):
    """Make a table of its own inside the test's transaction, which drops it again."""
    WORDS.create(db.connection())
    return WORDS


def test_insert_rows_inserts_them_all_with_the_clauses_asked(db, words):
    seen = datetime(2026, 10, 2, 14, 30, tzinfo=UTC)
    rows = [{"word": word, "seen_at": seen} for word in ("apple", "pear", "fig")]

    def skip_known(insert):
        return insert.on_conflict_do_nothing().returning(words.c.word)

    assert sorted(insert_rows(db, words, rows, skip_known).scalars()) == ["apple", "fig", "pear"]
    again = [{"word": "fig", "seen_at": seen}, {"word": "kiwi", "seen_at": seen}]
    assert insert_rows(db, words, again, skip_known).scalars().all() == ["kiwi"]
    stored = db.execute(select(words.c.word, words.c.seen_at).order_by(words.c.id)).all()
    assert stored == [("apple", seen), ("pear", seen), ("fig", seen), ("kiwi", seen)]


def test_insert_rows_refuses_a_value_too_long_rather_than_cut_it(db, words, database_url):
    if not is_postgres(database_url):
        pytest.skip("SQLite keeps any length")
    rows = [{"word": "pineapple", "seen_at": datetime.now(UTC)}]
    with pytest.raises(DataError), db.begin_nested():
        insert_rows(db, words, rows)


def test_insert_rows_refuses_a_naive_time(db, words):
    rows = [{"word": "plum", "seen_at": datetime(2026, 10, 2, 14, 30)}]
    with pytest.raises(Exception, match="naive datetime"), db.begin_nested():
        insert_rows(db, words, rows)


def test_among_matches_strings_and_integers_given_as_one_list(db, words):
    seen = datetime(2026, 10, 2, 14, 30, tzinfo=UTC)
    insert_rows(db, words, [{"word": w, "seen_at": seen} for w in ("apple", "pear", "fig")])
    wanted = ["fig", "apple", "kiwi", "x" * 300]  # longer than the column: never cut to match
    found = db.scalars(select(words.c.word).where(among(db, words.c.word, wanted)))
    assert sorted(found) == ["apple", "fig"]
    ids = db.scalars(select(words.c.id).where(words.c.word.in_(["pear", "fig"]))).all()
    found = db.scalars(select(words.c.word).where(among(db, words.c.id, ids)))
    assert sorted(found) == ["fig", "pear"]
    assert db.scalars(select(words.c.word).where(among(db, words.c.id, []))).all() == []


def test_write_rows_stores_the_text_an_insert_stores(db, words):
    seen = datetime(2026, 10, 2, 16, 30, 5, tzinfo=ZoneInfo("Europe/Paris"))
    notes = {"plan": "pro", "note": "café \u00e9", "seats": [1, 2.5, None]}
    db.execute(insert(words), [{"word": "apple", "seen_at": seen, "notes": notes}])
    assert write_rows(db, words, [{"word": "pear", "seen_at": seen, "notes": notes}]) == 1
    as_text = select(func.cast(words.c.seen_at, String), func.cast(words.c.notes, String))
    apple, pear = db.execute(as_text.order_by(words.c.id)).all()
    assert pear == apple


def test_write_rows_counts_the_rows_it_wrote(db, words):
    seen = datetime(2026, 10, 2, 14, 30, tzinfo=UTC)
    rows = [{"word": word, "seen_at": seen} for word in ("apple", "pear")]
    assert write_rows(db, words, rows) == 2

    def skip_known(insert):
        return insert.on_conflict_do_nothing()

    again = [{"word": "fig", "seen_at": seen}, {"word": "pear", "seen_at": seen}]
    assert write_rows(db, words, again, skip_known) == 1
    assert write_rows(db, words, again, skip_known) == 0

    def touch(insert):
        return insert.on_conflict_do_update(
            index_elements=[words.c.word], set_={"seen_at": insert.excluded.seen_at}
        )

    later = datetime(2026, 10, 3, tzinfo=UTC)
    assert write_rows(db, words, [{"word": "fig", "seen_at": later}], touch) == 1
    stored = db.execute(select(words.c.word, words.c.seen_at).order_by(words.c.id)).all()
    assert stored == [("apple", seen), ("pear", seen), ("fig", later)]


def test_write_rows_refuses_a_naive_time(db, words):
    rows = [{"word": "plum", "seen_at": datetime(2026, 10, 2, 14, 30)}]
    with pytest.raises(Exception, match="naive datetime"), db.begin_nested():
        write_rows(db, words, rows)


def test_insert_new_returns_the_rows_it_inserted_and_only_those(db, words):
    seen = datetime(2026, 10, 2, 14, 30, tzinfo=UTC)
    later = datetime(2026, 10, 3, 9, 0, tzinfo=UTC)

    def new(rows):
        return sorted(
            tuple(row) for row in insert_new(db, words, rows, "word", ("word", "seen_at"))
        )

    assert new([{"word": "apple", "seen_at": seen}, {"word": "pear", "seen_at": seen}]) == [
        ("apple", seen),
        ("pear", seen),
    ]
    # Some known: SQLite reads back what it added.
    rows = [{"word": w, "seen_at": later} for w in ("fig", "pear", "kiwi", "apple")]
    assert new(rows) == [("fig", later), ("kiwi", later)]
    assert new(rows) == []
    returned = insert_new(db, words, [{"word": "plum", "seen_at": later}], "word", ("seen_at",))
    assert [row.seen_at for row in returned] == [later]
    assert db.scalar(select(func.count()).select_from(words)) == 5
