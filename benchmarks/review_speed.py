"""Time the ship / no-ship review: its page and its API, their statements, and the snapshot.

On the Measure benchmark's data (metric_values.py: a beta of 10,000 members in 4 cohorts, 30
days, 1,000,000 events, 5 metrics; and a smaller one of 1,000 members, 10 days), with 5,000
feedback items on the big beta (50 on the small one): every type, some uncodified, 20 open
blockers. Requests in-process through Flask's test client `GET /betas/{key}/review` and
`GET /api/v1/betas/{key}/review`, prints their median and p95 and their statements at both
sizes, then the time of each section of the review, and the snapshot's size.

    .venv/bin/python benchmarks/review_speed.py                       # SQLite
    .venv/bin/python benchmarks/review_speed.py --postgres postgresql://postgres@127.0.0.1/postgres

The PostgreSQL run creates and drops a scratch database `shipcall_review_bench`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime

from metric_values import PASSWORD, p95, populate, statements, timings
from scratch import scratch_postgres
from sqlalchemy import select

from betas.config import DEFAULT_FEEDBACK_TYPES
from betas.db import insert_rows, utcnow
from betas.models import Beta
from cohorts.models import Account
from feedback import patterns
from feedback.models import FeedbackItem
from shipcall import review
from shipcall.app import create_app
from usage import values

SCRATCH = "shipcall_review_bench"
OPEN_BLOCKERS = 20


def add_feedback(session, key: str, items: int) -> None:
    """Log `items` feedback items on the beta, spread over its accounts and every type."""
    beta = session.scalar(select(Beta).where(Beta.key == key))
    accounts = session.scalars(
        select(Account.id).where(Account.external_id.like(f"{key}-%")).limit(items)
    ).all()
    now = datetime.now(UTC)
    rows = []
    for n in range(items):
        kind = DEFAULT_FEEDBACK_TYPES[n % len(DEFAULT_FEEDBACK_TYPES)]
        codified = n % 10 != 0  # one in ten still uncodified
        blocker = codified and kind == "blocker"
        rows.append(
            {
                "beta_id": beta.id,
                "account_id": accounts[n % len(accounts)],
                "original": f"Item {n}: the report takes too long to open when the inbox is busy.",
                "source": "call",
                "type": kind if codified else None,
                "summary": "Slow report" if codified else None,
                "reason": f"reason {n % 40}" if codified else None,
                "blocker_state": ("open" if n < OPEN_BLOCKERS * 7 else "resolved")
                if blocker
                else None,
                "logged_at": now,
                "updated_at": now,
            }
        )
    insert_rows(session, FeedbackItem.__table__, rows)


def more_feedback(session) -> None:
    """Add the review's feedback: 5,000 items on the big beta, 50 on the other."""
    add_feedback(session, "big", 5_000)
    add_feedback(session, "small", 50)


def section_figures(app) -> None:
    """Print where the big beta's review spends its time: each section, and the snapshot."""
    database = app.extensions["shipcall.db"]
    zone = app.config["SHIPCALL"].zone
    today = datetime.now(UTC).date()
    with database.session() as session:
        beta = review.load_beta(session, "big")
        took = {}

        def timed(name, gather):
            started = time.perf_counter()
            result = gather()
            took[name] = (time.perf_counter() - started) * 1000
            return result

        metrics = timed("metrics", lambda: values.metric_values(session, beta, today, zone))
        types = app.config["SHIPCALL"].feedback_types
        feedback = timed("feedback", lambda: patterns.beta_patterns(session, beta, types))
        cohorts = timed("cohorts", lambda: review.cohorts_section(session, beta))
        outreach = timed("outreach", lambda: review.outreach_section(session, beta, utcnow()))
        found = review.Review(
            beta, today, metrics, feedback, cohorts, outreach, review.deadline_section(beta, today)
        )
        frozen = timed("snapshot", lambda: review.snapshot(found))
    print("  sections: " + ", ".join(f"{name} {ms:.0f} ms" for name, ms in took.items()))
    print(
        f"  snapshot: {review.size_of(frozen) / 1024:.0f} KB (limit "
        f"{review.SNAPSHOT_MAX // 1024} KB, one day in {frozen['days_kept_every']} kept); "
        f"{len(feedback.blockers)} open blockers, {feedback.items.all:,} items"
    )


def measure(url: str, name: str, runs: int) -> None:
    """Fill the database, then time and count the review's page and API on both betas."""
    print(f"{name}:")
    secret, _email = populate(url, more_feedback)
    app = create_app({"database_url": url, "secret_key": "benchmark-secret-key"})
    app.config["WTF_CSRF_ENABLED"] = False
    api, page = app.test_client(), app.test_client()
    signed_in = page.post("/sign-in", data={"email": "pm@example.com", "password": PASSWORD})
    assert signed_in.status_code == 302
    bearer = {"Authorization": f"Bearer {secret}"}
    for label, client, path, headers in [
        ("review API", api, "/api/v1/betas/{key}/review", bearer),
        ("review page", page, "/betas/{key}/review", {}),
    ]:
        small = statements(app, client, path.format(key="small"), headers)
        big = statements(app, client, path.format(key="big"), headers)
        times = timings(client, path.format(key="big"), headers, runs)
        print(
            f"  {label}: median {statistics.median(times):.0f} ms, p95 {p95(times):.0f} ms "
            f"({runs} requests); statements: {small} (1,000 members, 10 days, 50 items), "
            f"{big} (10,000 members, 30 days, 5,000 items)"
        )
    section_figures(app)
    app.extensions["shipcall.db"].engine.dispose()


def main() -> None:
    """Measure on SQLite, and on PostgreSQL when asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="a PostgreSQL server URL to create a scratch db on")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        measure(f"sqlite:///{folder}/review.db", "SQLite", args.runs)
    if args.postgres:
        with scratch_postgres(args.postgres, SCRATCH) as url:
            measure(url, "PostgreSQL", args.runs)


if __name__ == "__main__":
    main()
