"""Time the metric values: the values API and the Metrics page, with their SQL statements.

Fills a database with a beta launched 30 days ago: 10,000 members in 4 cohorts (joined over its
first 10 days, some opting out later), 1,000,000 events over the 30 days in 8 kinds, and 5
metrics mixing per-event and per-day rules, 7-day and since-joined windows; the rollup is
rebuilt from the raw events (its join-day splits too). A second, smaller beta (1,000 members,
10 days) shows that the number of statements does not grow with members or days. Then it
requests, in-process through Flask's test client, the values API
(`GET /api/v1/betas/{key}/metrics/values`) and the Metrics page (`/betas/{key}/metrics`) and
prints their median and p95 (values stored), their statements at both sizes computing and
storing, and reading; last, each route after each of 10 batches of events sent today, then of
10 batches of late events, 15 days back.

    .venv/bin/python benchmarks/metric_values.py                       # SQLite
    .venv/bin/python benchmarks/metric_values.py --postgres postgresql://postgres@127.0.0.1/postgres

The PostgreSQL run creates and drops a scratch database `shipcall_values_bench`. Figures and
where the time goes: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from timing import p95, statements, timings  # beside this script

from betas.audit import Actor
from betas.auth.tokens import create_token
from betas.auth.users import create_user
from betas.config import normalize_database_url
from betas.db import Database, alembic_config, insert_rows
from betas.models import Beta, BetaState, MetricStage, MetricUnit, Role, SuccessMetric, User
from cohorts.models import Account, Cohort, CohortKind, Membership, MembershipStatus
from shipcall.app import create_app
from usage import rollup, value_store
from usage.events import ingest_items
from usage.models import EventKind, UsageEvent

SCRATCH = "shipcall_values_bench"
PASSWORD = "benchmark password"
KINDS = [
    ("opened", "report", ""),
    ("opened", "report", "inbox"),
    ("viewed", "chart", "inbox"),
    ("switched", "old_report", ""),
    ("exported", "report", "inbox"),
    ("shared", "report", ""),
    ("searched", "inbox", ""),
    ("viewed", "settings", ""),
]
METRICS = [
    ("Weekly use", MetricUnit.PERCENT, "at_least", 40, ["opened/report"], 2, "event", 7),
    ("Habit", MetricUnit.PERCENT, "at_least", 25, ["opened/report"], 3, "day", None),
    ("Switched back", MetricUnit.PERCENT, "at_most", 10, ["switched/old_report"], 3, "day", 7),
    ("Exported", MetricUnit.COUNT, "at_least", 1000, ["exported/report/inbox"], 1, "event", None),
    ("Inbox charts", MetricUnit.PERCENT, "at_least", 30, ["viewed/chart", "opened/report/inbox"],
     2, "day", 7),
]  # fmt: skip
COHORTS = [
    ("early", CohortKind.EARLY_ADOPTERS),
    ("sample", CohortKind.RANDOM_SAMPLE),
    ("wave-2", CohortKind.MANUAL),
    ("wave-3", CohortKind.MANUAL),
]
CHUNK = 20_000
AFTER_EVENTS_RUNS = 10  # batches of events, a request after each


def _rule(patterns, at_least, per, window) -> dict:
    events = []
    for pattern in patterns:
        action, object_, *place = pattern.split("/")
        events.append(
            {"action": action, "object": object_, **({"place": place[0]} if place else {})}
        )
    return {"events": events, "at_least": at_least, "per": per, "window_days": window}


def fill(session, owner: User, key: str, members: int, days: int, events: int, seed: int) -> None:
    """Add a beta launched `days` ago with its members, their events and the metrics."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    launched = now - timedelta(days=days)
    beta = Beta(
        key=key,
        name=key,
        owner=owner,
        state=BetaState.RUNNING,
        launched_at=launched,
        decision_deadline=now.date() + timedelta(days=30),
        problem="p",
        learning_goals="g",
    )
    for name, unit, direction, target, patterns, at_least, per, window in METRICS:
        beta.metrics.append(
            SuccessMetric(
                name=name,
                stage=MetricStage.ADOPTION,
                unit=unit,
                direction=direction,
                target=target,
                rule=_rule(patterns, at_least, per, window),
            )
        )
    cohorts = [Cohort(beta=beta, slug=s, name=s.title(), kind=k, position=n)
               for n, (s, k) in enumerate(COHORTS)]  # fmt: skip
    session.add_all([beta, *cohorts])
    session.flush()
    kinds = {}
    for action, object_, place in KINDS:
        kind = session.scalar(
            select(EventKind).where(
                EventKind.action == action, EventKind.object == object_, EventKind.place == place
            )
        ) or EventKind(action=action, object=object_, place=place)
        session.add(kind)
        session.flush()
        kinds[action, object_, place] = kind.id
    accounts = insert_rows(
        session,
        Account.__table__,
        [
            {"external_id": f"{key}-{n}", "name": "", "attributes": {}, "created_at": now,
             "updated_at": now}
            for n in range(members)
        ],
        lambda insert: insert.returning(Account.__table__.c.id),
    ).scalars().all()  # fmt: skip
    joins = {}
    rows = []
    for account_id in accounts:
        joined = launched + timedelta(seconds=rng.randint(0, min(days, 10) * 86_400))
        left = joined + timedelta(days=rng.randint(1, days)) if rng.random() < 0.1 else None
        left = left if left and left < now else None
        joins[account_id] = joined
        rows.append(
            {
                "beta_id": beta.id,
                "account_id": account_id,
                "cohort_id": rng.choice(cohorts).id,
                "status": (MembershipStatus.OPTED_OUT if left else MembershipStatus.ACTIVE).value,
                "reason": "",
                "enrolled_at": joined,
                "joined_at": joined,
                "left_at": left,
            }
        )
    insert_rows(session, Membership.__table__, rows)
    weights = [30, 10, 8, 5, 4, 3, 3, 2]
    kind_ids = [kinds[k] for k in KINDS]
    batch = []
    span = days * 86_400
    for n in range(events):
        at = launched - timedelta(days=1) + timedelta(seconds=rng.randint(0, span + 86_400 - 60))
        batch.append(
            {
                "client_event_id": f"{key}-e{n}",
                "account_id": accounts[rng.randrange(members)],
                "kind_id": rng.choices(kind_ids, weights)[0],
                "user_ref": None,
                "metadata": {},
                "occurred_at": at,
                "received_at": now,
            }
        )
        if len(batch) == CHUNK:
            insert_rows(session, UsageEvent.__table__, batch)
            batch = []
    if batch:
        insert_rows(session, UsageEvent.__table__, batch)


def populate(url: str, more=None) -> tuple[str, str]:
    """Migrate and fill; return the API token's secret and the viewer's email.

    `more(session)`, when given, adds what another benchmark needs before the rollup is rebuilt.
    """
    command.upgrade(alembic_config(url), "head")
    database = Database(url)
    with database.session() as session:
        owner = create_user(
            session, "pm@example.com", PASSWORD, Role.PM, hash_method="pbkdf2:sha256:1"
        )
        started = time.perf_counter()
        fill(session, owner, "big", 10_000, 30, 1_000_000, 1)
        fill(session, owner, "small", 1_000, 10, 50_000, 2)
        if more is not None:
            more(session)
        filled = time.perf_counter()
        rebuilt = rollup.rebuild(session, UTC)
        _token, secret = create_token(session, "bench", ["betas:read"], owner, Actor(owner))
        session.commit()
        print(
            f"  filled in {filled - started:.0f} s; rollup rebuilt in "
            f"{time.perf_counter() - filled:.0f} s: {rebuilt}"
        )
    database.engine.dispose()
    return secret, "pm@example.com"


def forget_stored_values(app) -> None:
    """Forget every stored value, as a rebuild does: the next request computes them all."""
    with app.extensions["shipcall.db"].session() as session:
        value_store.forget_all(session)
        session.commit()


def measure(url: str, name: str, runs: int) -> None:
    """Fill the database, then time and count both routes on both betas."""
    print(f"{name}:")
    secret, email = populate(url)
    app = create_app({"database_url": url, "secret_key": "benchmark-secret-key"})
    app.config["WTF_CSRF_ENABLED"] = False
    gc.freeze()  # as gunicorn.conf.py does in each worker, once the app is loaded
    api = app.test_client()
    page = app.test_client()
    assert page.post("/sign-in", data={"email": email, "password": PASSWORD}).status_code == 302
    bearer = {"Authorization": f"Bearer {secret}"}
    for label, client, path, headers in [
        ("values API", api, "/api/v1/betas/{key}/metrics/values", bearer),
        ("Metrics page", page, "/betas/{key}/metrics", {}),
    ]:
        forget_stored_values(app)  # so that each route is counted computing and storing
        # Counted first, one right after the other: a token's use is recorded once a minute.
        small = statements(app, client, path.format(key="small"), headers)
        big = statements(app, client, path.format(key="big"), headers)
        times = timings(client, path.format(key="big"), headers, runs)
        print(
            f"  {label}: median {statistics.median(times):.0f} ms, p95 {p95(times):.0f} ms "
            f"({runs} requests, values stored); statements: {small} (1,000 members, 10 days), "
            f"{big} (10,000 members, 30 days), both computing and storing; "
            f"{statements(app, client, path.format(key='big'), headers)} reading stored values"
        )
    # What a request costs when events arrived since the last: the days from theirs are computed
    # again, reading of the rollup only what those days need. Today's events (what a product
    # sends all the time), then late ones 15 days back, of members across the cohorts; each
    # route after batches of its own.
    database = app.extensions["shipcall.db"]
    batches = iter(range(1_000_000))
    for label, days_back in [("today's", 0), ("late (15 days back)", 15)]:
        for route, client, path, headers in [
            ("values API", api, "/api/v1/betas/big/metrics/values", bearer),
            ("Metrics page", page, "/betas/big/metrics", {}),
        ]:
            after = []
            for _ in range(AFTER_EVENTS_RUNS):
                with database.session() as session:
                    ingest_items(session, batch_of_events(next(batches), days_back), UTC)
                    session.commit()
                after += timings(client, path, headers, 1, warm=False)
            with database.session() as session:
                ingest_items(session, batch_of_events(next(batches), days_back), UTC)
                session.commit()
            counted = statements(app, client, path, headers)
            print(
                f"  {route} after a batch of 1,000 {label} events: median "
                f"{statistics.median(after):.0f} ms, p95 {p95(after):.0f} ms ({AFTER_EVENTS_RUNS} "
                f"batches: {', '.join(f'{t:.0f}' for t in after)} ms); statements: {counted}"
            )
    database.engine.dispose()


def batch_of_events(batch: int, days_back: int) -> list[dict]:
    """Return a batch of 1,000 events of the big beta's members, `days_back` days ago."""
    rng = random.Random(batch)
    # A second apart from 1,000 seconds before now: none is in the future.
    at = datetime.now(UTC) - timedelta(days=days_back, seconds=1_000)
    return [
        {
            "id": f"after-{days_back}-{batch}-{n}",
            "account": f"big-{rng.randrange(10_000)}",
            "action": "opened",
            "object": "report",
            "occurred_at": (at + timedelta(seconds=n)).isoformat(),
        }
        for n in range(1_000)
    ]


def main() -> None:
    """Measure on SQLite, and on PostgreSQL when asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="a PostgreSQL server URL to create a scratch db on")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        measure(f"sqlite:///{folder}/values.db", "SQLite", args.runs)
    if args.postgres:
        server = normalize_database_url(args.postgres)
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {SCRATCH}"))
        try:
            url = make_url(server).set(database=SCRATCH).render_as_string(hide_password=False)
            measure(url, "PostgreSQL", args.runs)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)"))
            admin.dispose()


if __name__ == "__main__":
    main()
