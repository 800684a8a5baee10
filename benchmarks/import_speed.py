"""Time the import of benchmarks/data/ into a fresh SQLite database, search index included.

    python benchmarks/generate.py && python benchmarks/import_speed.py

Prints, for the accounts and then the conversation parts, the wall time and the process's peak
memory so far (ru_maxrss). The targets: a million parts in at most 3 minutes, 500 MB at most.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from alembic import command
from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from betas.db import Database, alembic_config  # noqa: E402
from cohorts.importing import ImportResult, Kind, import_file  # noqa: E402
from cohorts.models import Author, ConversationPart  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"


def peak_mb() -> float:
    """Return the process's peak resident memory so far, in MB (Linux counts it in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_import(database: Database, path: Path, kind: Kind) -> ImportResult:
    """Import one file in one transaction, as the CLI does, and print what it took."""
    started = time.perf_counter()
    with database.session() as session, path.open("rb") as stream:
        result = import_file(session, stream, kind)
        session.commit()
    seconds = time.perf_counter() - started
    print(f"{kind.value:<14} {result}  in {seconds:7.1f} s   peak memory {peak_mb():6.0f} MB")
    return result


def main() -> None:
    """Parse the flags, migrate a fresh database and import both files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--database", type=Path, help="a new SQLite file (default: a temp one)")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory(prefix="shipcall-bench-")
    path = args.database or Path(folder.name) / "bench.db"
    url = f"sqlite:///{path}"
    command.upgrade(alembic_config(url), "head")
    database = Database(url)
    print(f"database {path}; peak memory before importing {peak_mb():.0f} MB")
    timed_import(database, args.data / "accounts.csv", Kind.ACCOUNTS)
    timed_import(database, args.data / "conversations.csv", Kind.CONVERSATIONS)
    with database.session(write=False) as session:
        parts = session.scalar(select(func.count()).select_from(ConversationPart))
        customer = session.scalar(
            select(func.count()).where(ConversationPart.author == Author.CUSTOMER)
        )
        indexed = session.scalar(
            text("SELECT count(*) FROM part_search WHERE part_search MATCH 'export OR csv'")
        )
    print(f"{parts} parts stored, {customer} by customers; {indexed} customer parts match export")
    database.engine.dispose()
    folder.cleanup()


if __name__ == "__main__":
    main()
