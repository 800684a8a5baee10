"""Time the early-adopter finder on the generated data and measure its precision on the planted set.

    python benchmarks/generate.py
    python benchmarks/finder_speed.py sqlite:///instance/bench/finder.db
    python benchmarks/finder_speed.py postgresql://postgres@127.0.0.1:5432/shipcall_bench

Migrates the database and, when it has no accounts yet, imports benchmarks/data/ with the
importer the CLI uses (a PostgreSQL database is created first if it does not exist). Then runs a
fixed list of queries, common words that match many messages and the planted feature request's
queries, each once to warm the caches and then RUNS times, and prints p50 / p95 per query and over
all, the customer messages each query matched, and the precision of the top 20 accounts against the
accounts planted as asking (their decoys are accounts where only teammates used the same words).
The targets: p95 at most 300 ms for queries matching up to 100,000 messages; precision at least 0.9.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from betas.config import normalize_database_url  # noqa: E402
from betas.db import Database, alembic_config  # noqa: E402
from betas.models import Beta, BetaState, Role, User  # noqa: E402
from cohorts import finder  # noqa: E402
from cohorts.importing import Kind, import_file  # noqa: E402
from cohorts.models import Account  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
RUNS = 20
TOP = 20
BETA_KEY = "finder-benchmark"
# Product words of the generated vocabulary, from 3,000 to 264,000 matching customer messages
# ("macro" is beyond the 100,000 of the target), combinations, a phrase, OR and an exclusion.
COMMON = [
    "report",
    "inbox",
    "billing",
    "dashboard",
    "customer",
    "app",
    "macro",
    "slack webhook",
    "report OR inbox",
    '"is not working"',
    "error -timeout",
]


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database if it is missing; never touch one named `test`."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    if parsed.database == "test":
        raise SystemExit("The database `test` belongs to the test suite: use a scratch one.")
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
        )
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def load(database: Database, data: Path) -> None:
    """Import the generated accounts and conversations, each file in one transaction."""
    for kind, name in ((Kind.ACCOUNTS, "accounts.csv"), (Kind.CONVERSATIONS, "conversations.csv")):
        started = time.perf_counter()
        with database.session() as session, (data / name).open("rb") as stream:
            result = import_file(session, stream, kind)
            session.commit()
        print(f"imported {name}: {result} in {time.perf_counter() - started:.0f} s", flush=True)


def analyze(database: Database) -> None:
    """Give PostgreSQL's planner the statistics of tables a load or a migration just filled."""
    if database.engine.dialect.name == "postgresql":
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


def benchmark_beta(database: Database) -> None:
    """Add the running beta that the searches are made on, once."""
    with database.session() as session:
        if session.scalar(select(Beta.id).where(Beta.key == BETA_KEY)):
            return
        owner = User(email="finder-benchmark@example.com", password_hash="-", role=Role.PM)
        session.add(
            Beta(
                key=BETA_KEY,
                name="Finder benchmark",
                owner=owner,
                state=BetaState.RUNNING,
                decision_deadline=date.today() + timedelta(days=30),
            )
        )
        session.commit()


def percentile(values: list[float], share: float) -> float:
    """Return the value below which `share` of the values fall (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, round(share * len(ordered) + 0.5) - 1)]


def main() -> None:
    """Parse the arguments, load the data if needed, run the queries and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url", help="sqlite:///path or postgresql://.../scratch-name")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    url = normalize_database_url(args.database_url)
    ensure_database(url)
    command.upgrade(alembic_config(url), "head")
    database = Database(url)
    with database.session(write=False) as session:
        empty = not session.scalar(select(func.count()).select_from(Account))
    if empty:
        load(database, args.data)
    analyze(database)
    benchmark_beta(database)
    planted = json.loads((args.data / "planted.json").read_text())
    asked = set(planted["accounts"])

    print(f"\n{database.engine.dialect.name}: {RUNS} runs per query, top {TOP} accounts")
    print(f"{'query':<26} {'p50 ms':>8} {'p95 ms':>8} {'messages':>9} {'accounts':>9} {'P@20':>6}")
    every_run: list[float] = []
    precisions: list[float] = []
    with database.session(write=False) as session:
        beta = session.scalar(select(Beta).where(Beta.key == BETA_KEY))
        for query in COMMON + planted["queries"]:
            criteria = finder.Criteria(query)
            result = finder.search(session, beta, criteria, limit=TOP)
            runs = []
            for _ in range(RUNS):
                started = time.perf_counter()
                finder.search(session, beta, criteria, limit=TOP)
                runs.append((time.perf_counter() - started) * 1000)
            every_run += runs
            precision = ""
            if query in planted["queries"]:
                top = [m.account for m in result.matches]
                share = len(asked.intersection(top)) / len(top) if top else 0.0
                precisions.append(share)
                precision = f"{share:.2f}"
            print(
                f"{query:<26} {percentile(runs, 0.5):8.1f} {percentile(runs, 0.95):8.1f} "
                f"{result.matched_parts:9d} {result.total_accounts:9d} {precision:>6}",
                flush=True,
            )
    print(
        f"{'all queries':<26} {percentile(every_run, 0.5):8.1f} {percentile(every_run, 0.95):8.1f}"
    )
    print(
        f"precision@{TOP} on the planted queries: mean {statistics.mean(precisions):.2f}, "
        f"lowest {min(precisions):.2f}"
    )
    database.engine.dispose()


if __name__ == "__main__":
    main()
