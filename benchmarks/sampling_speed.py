"""Time random samples of 500 from a pool of about a million accounts, on SQLite and PostgreSQL.

    python benchmarks/sampling_speed.py
    python benchmarks/sampling_speed.py --accounts 100000 --runs 1     # a quick run

Creates its own data in a fresh SQLite file and in the scratch PostgreSQL database
shipcall_sample_bench (created, then dropped at the end; never the suite's `test` database):
accounts with a plan and a region, a running beta with an early-adopter cohort, a saved problem
search with matching customer messages, and a random-sample cohort. Then times dry-run draws of
500 (plain, filtered by plan, stratified by plan), each RUNS times after one warm-up, and prints
the best and median seconds per database and whether both databases drew the same accounts.
The targets: at most 5 s on SQLite and 2 s on PostgreSQL, and identical accounts.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scratch import scratch_postgres  # noqa: E402

from betas.audit import Actor  # noqa: E402
from betas.db import Database, alembic_config, utcnow  # noqa: E402
from betas.models import Beta, BetaState, Role, User  # noqa: E402
from cohorts import memberships, sample_specs, sampling, waves  # noqa: E402
from cohorts.models import (  # noqa: E402
    Account,
    Author,
    Cohort,
    CohortKind,
    Conversation,
    ConversationPart,
    ProblemSearch,
)

POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SCRATCH = "shipcall_sample_bench"
BETA_KEY = "sampling-benchmark"
SEED = "benchmark-seed"
SIZE = 500
BATCH = 50_000
EARLY_ADOPTERS = 300
ASKED = 2_000
PLANS = ["free"] * 55 + ["pro"] * 25 + ["team"] * 15 + ["enterprise"] * 5
REGIONS = ["eu", "us", "apac", "latam"]
# (label, filters, stratify_by)
DRAWS = [
    ("500 of all", {}, None),
    ("500, plan in pro/team", {"plan": ["pro", "team"]}, None),
    ("500, stratified by plan", {}, "plan"),
]


def account_rows(count: int) -> Iterator[list[dict]]:
    """Yield the accounts' rows in batches; the same rows every time."""
    rng = random.Random(20261123)
    now = utcnow()
    batch = []
    for n in range(1, count + 1):
        batch.append(
            {
                "external_id": f"acct-{n:07d}",
                "name": f"Account {n}",
                "attributes": {
                    "plan": rng.choice(PLANS),
                    "region": rng.choice(REGIONS),
                    "seats": rng.randint(1, 500),
                },
                "created_at": now,
                "updated_at": now,
            }
        )
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def load(database: Database, count: int) -> None:
    """Insert the accounts, a running beta with early adopters, and accounts that asked."""
    started = time.perf_counter()
    with database.session() as session:
        for batch in account_rows(count):
            session.execute(insert(Account), batch)
        owner = User(email="sampling-benchmark@example.com", password_hash="-", role=Role.PM)
        beta = Beta(
            key=BETA_KEY,
            name="Sampling benchmark",
            owner=owner,
            state=BetaState.RUNNING,
            decision_deadline=date.today() + timedelta(days=30),
        )
        early = Cohort(beta=beta, slug="early", name="Early", kind=CohortKind.EARLY_ADOPTERS)
        sample = Cohort(beta=beta, slug="random", name="Random", kind=CohortKind.RANDOM_SAMPLE)
        session.add_all([beta, early, sample])
        session.flush()
        session.add(ProblemSearch(beta_id=beta.id, query="export csv"))
        # Accounts that asked for the feature: the sample's pool leaves them out. (A fresh
        # database numbers the accounts from 1.)
        step = count // ASKED
        for n in range(ASKED):
            conversation = Conversation(
                external_id=f"conv-{n}", account_id=1 + n * step, started_at=utcnow()
            )
            conversation.parts.append(
                ConversationPart(
                    author=Author.CUSTOMER,
                    body="Could we export the report to CSV?",
                    created_at=utcnow(),
                )
            )
            session.add(conversation)
        session.flush()
        early_ids = [f"acct-{1 + n * step:07d}" for n in range(EARLY_ADOPTERS)]
        memberships.enroll(
            session, Actor(owner), beta, early, early_ids, "asked for CSV export", date.today()
        )
        session.commit()
    if database.engine.dialect.name == "postgresql":
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    print(f"  loaded {count:,} accounts in {time.perf_counter() - started:.0f} s", flush=True)


def timed(run: Callable[[], sampling.Sample], runs: int) -> tuple[list[float], sampling.Sample]:
    """Run once to warm the caches, then `runs` times; return the seconds and the last sample."""
    sample = run()
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        sample = run()
        seconds.append(time.perf_counter() - started)
    return seconds, sample


def bench(url: str, count: int, runs: int) -> dict[str, tuple[list[float], sampling.Sample]]:
    """Migrate and load a database, then time each draw; return the times and samples."""
    print(f"{make_url(url).get_backend_name()}:", flush=True)
    command.upgrade(alembic_config(url), "head")
    database = Database(url)
    load(database, count)
    results = {}
    try:
        with database.session(write=False) as session:
            beta = session.scalars(select(Beta).where(Beta.key == BETA_KEY)).one()
            cohort = waves.get_cohort(session, beta, "random")
            actor = Actor(beta.owner)
            for label, filters, stratify_by in DRAWS:
                spec = sample_specs.SampleSpec(SIZE, SEED, filters, stratify_by)
                results[label] = timed(
                    lambda spec=spec: sampling.draw_sample(
                        session, actor, beta, cohort, spec, date.today(), dry_run=True
                    ),
                    runs,
                )
                seconds, sample = results[label]
                print(
                    f"  {label:<26} best {min(seconds):5.2f} s  median "
                    f"{statistics.median(seconds):5.2f} s  pool {sample.pool_size:,}",
                    flush=True,
                )
    finally:
        database.engine.dispose()
    return results


def main() -> None:
    """Parse the arguments, run both databases and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    # Other work on the machine slows the draws: the load average says how much.
    print(f"load average at the start: {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory(prefix="shipcall-sample-") as folder:
        sqlite = bench(f"sqlite:///{folder}/sample.db", args.accounts, args.runs)
    with scratch_postgres(POSTGRES_ADMIN, SCRATCH) as url:
        postgres = bench(url, args.accounts, args.runs)
    print(f"\nSample of {SIZE} from about {args.accounts:,} accounts, best of {args.runs} runs:")
    print(f"{'draw':<26} {'SQLite':>8} {'PostgreSQL':>11} {'same accounts':>14}")
    for label, _, _ in DRAWS:
        (lite_s, lite), (pg_s, pg) = sqlite[label], postgres[label]
        same = lite.accounts == pg.accounts and lite.pool_size == pg.pool_size
        print(f"{label:<26} {min(lite_s):8.2f} {min(pg_s):11.2f} {'yes' if same else 'NO':>14}")
    print("targets: at most 5 s on SQLite, 2 s on PostgreSQL, the same accounts on both")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
