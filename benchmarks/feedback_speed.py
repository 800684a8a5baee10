"""Time the feedback log, its patterns and their API on a beta with 5,000 feedback items.

Fills a fresh database with a running beta: 1,200 accounts, 1,000 of them members in three
cohorts (early adopters, a random sample, one added by hand), the other 200 not members; and
5,000 items over them (`--items`): every type, 80 reasons each written in several spellings
(case, spacing, punctuation), a tenth blockers (a third of them resolved), a sixth uncodified,
some repeating an earlier item. Then it requests, in-process through Flask's test client, the
log's first page, the log with filters, the patterns page and its chart, the list API and the
patterns API, and prints each one's median, p95 and SQL statements.

    .venv/bin/python benchmarks/feedback_speed.py                       # SQLite
    .venv/bin/python benchmarks/feedback_speed.py --postgres postgresql://postgres@127.0.0.1/postgres

The PostgreSQL run creates and drops a scratch database `shipcall_feedback_bench`. Target: p95
at most 300 ms for each. Figures: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command

# Run as a script: import this worktree's packages, and the scratch helper beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scratch import scratch_postgres  # noqa: E402
from timing import p95, statements, timings  # noqa: E402

from betas.audit import Actor  # noqa: E402
from betas.auth.tokens import create_token  # noqa: E402
from betas.auth.users import create_user  # noqa: E402
from betas.config import DEFAULT_FEEDBACK_TYPES  # noqa: E402
from betas.db import Database, alembic_config, insert_rows  # noqa: E402
from betas.models import Beta, BetaState, Role  # noqa: E402
from cohorts.models import Account, Cohort, CohortKind, Membership, MembershipStatus  # noqa: E402
from feedback.models import FeedbackItem, reason_key  # noqa: E402
from shipcall.app import create_app  # noqa: E402

SCRATCH = "shipcall_feedback_bench"
PASSWORD = "benchmark password"
KEY = "big"
ACCOUNTS = 1_200
MEMBERS = 1_000
COHORTS = [
    ("early", CohortKind.EARLY_ADOPTERS),
    ("sample", CohortKind.RANDOM_SAMPLE),
    ("by-hand", CohortKind.MANUAL),
]
TYPE_WEIGHTS = [20, 10, 12, 15, 15, 18, 10]  # in the order of DEFAULT_FEEDBACK_TYPES
WORDS = "export report inbox filter search chart share slow crash login sync mobile".split()
ROUTES = [
    ("log, first page", "/betas/{key}/feedback", False),
    (
        "log, type and cohort kind",
        "/betas/{key}/feedback?type=question&cohort_kind=random_sample",
        False,
    ),
    ("log, folded reason", "/betas/{key}/feedback?reason_is={reason}", False),
    ("log, open blockers", "/betas/{key}/feedback?open_blockers=y", False),
    ("log, uncodified, page 2", "/betas/{key}/feedback?uncodified=y&after={cursor}", False),
    ("patterns page", "/betas/{key}/feedback/patterns", False),
    ("patterns chart", "/betas/{key}/feedback/patterns.svg", False),
    ("list API", "/api/v1/betas/{key}/feedback", True),
    ("list API, blockers", "/api/v1/betas/{key}/feedback?type=blocker", True),
    ("patterns API", "/api/v1/betas/{key}/feedback/patterns", True),
]


def _spelling(rng: random.Random, reason: str) -> str:
    """Return a reason as a person might type it: its case, spacing and punctuation varied."""
    text = rng.choice([reason, reason.capitalize(), reason.upper(), reason.title()])
    if rng.random() < 0.3:
        text = text.replace(" ", rng.choice(["  ", " - ", ", "]))
    return text + rng.choice(["", "", ".", "!", "?"])


def fill(session, owner, items: int, seed: int) -> str:
    """Add the beta, its accounts, members and items; return one reason's folded key."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    beta = Beta(
        key=KEY,
        name="Inbox reports",
        owner=owner,
        state=BetaState.RUNNING,
        launched_at=now - timedelta(days=30),
        decision_deadline=now.date() + timedelta(days=30),
        problem="p",
        learning_goals="g",
    )
    cohorts = [
        Cohort(beta=beta, slug=slug, name=slug.title(), kind=kind, position=n)
        for n, (slug, kind) in enumerate(COHORTS)
    ]
    session.add_all([beta, *cohorts])
    session.flush()
    account_ids = (
        insert_rows(
            session,
            Account.__table__,
            [
                {"external_id": f"acct-{n}", "name": f"Account {n}", "attributes": {},
                 "created_at": now, "updated_at": now}
                for n in range(ACCOUNTS)
            ],
            lambda insert: insert.returning(Account.__table__.c.id),
        )
        .scalars()
        .all()
    )  # fmt: skip
    cohort_of = {}
    memberships = []
    for account_id in account_ids[:MEMBERS]:
        cohort = rng.choices(cohorts, [3, 5, 1])[0]
        cohort_of[account_id] = cohort.id
        memberships.append(
            {"beta_id": beta.id, "account_id": account_id, "cohort_id": cohort.id,
             "status": MembershipStatus.ACTIVE.value, "reason": "", "enrolled_at": now,
             "joined_at": now}
        )  # fmt: skip
    insert_rows(session, Membership.__table__, memberships)
    reasons = [f"{rng.choice(WORDS)} {rng.choice(WORDS)} {n}" for n in range(80)]
    rows = []
    for n in range(items):
        account_id = rng.choice(account_ids)
        kind = rng.choices(DEFAULT_FEEDBACK_TYPES, TYPE_WEIGHTS)[0]
        coded = rng.random() > 1 / 6
        reason = _spelling(rng, rng.choice(reasons[: 20 + n % 60])) if coded else None
        blocker = kind == "blocker" and coded
        resolved = blocker and rng.random() < 1 / 3
        rows.append(
            {
                "beta_id": beta.id,
                "account_id": account_id,
                "original": f"Customer {account_id} said something about {reason or 'it'}. " * 3,
                "source": rng.choice(["call", "message", "email", "survey", "in_app", "other"]),
                "type": kind if coded else None,
                "summary": f"Summary {n}" if coded else None,
                "reason": reason,
                "reason_key": reason_key(reason),
                "duplicate_of_id": None,
                "blocker_state": ("resolved" if resolved else "open") if blocker else None,
                "resolution": "Fixed in 2.3" if resolved else None,
                "cohort_id": cohort_of.get(account_id),
                "member_status": "active" if account_id in cohort_of else None,
                "logged_by_id": owner.id,
                "logged_at": now - timedelta(minutes=items - n),
                "updated_at": now,
            }
        )
    insert_rows(session, FeedbackItem.__table__, rows)
    return reason_key(reasons[0])


def populate(url: str, items: int) -> tuple[str, str]:
    """Migrate and fill; return the API token's secret and a folded reason to filter by."""
    command.upgrade(alembic_config(url), "head")
    database = Database(url)
    with database.session() as session:
        owner = create_user(
            session, "pm@example.com", PASSWORD, Role.PM, hash_method="pbkdf2:sha256:1"
        )
        started = time.perf_counter()
        reason = fill(session, owner, items, 1)
        _token, secret = create_token(session, "bench", ["feedback:read"], owner, Actor(owner))
        session.commit()
        print(f"  filled in {time.perf_counter() - started:.1f} s")
    database.engine.dispose()
    return secret, reason


def measure(url: str, name: str, items: int, runs: int) -> None:
    """Fill the database, then time and count every route."""
    print(f"{name}:")
    secret, reason = populate(url, items)
    app = create_app({"database_url": url, "secret_key": "benchmark-secret-key"})
    app.config["WTF_CSRF_ENABLED"] = False
    api, page = app.test_client(), app.test_client()
    assert (
        page.post("/sign-in", data={"email": "pm@example.com", "password": PASSWORD}).status_code
        == 302
    )
    first = api.get(f"/api/v1/betas/{KEY}/feedback", headers={"Authorization": f"Bearer {secret}"})
    cursor = first.get_json()["next"]
    for label, path, is_api in ROUTES:
        client, headers = (api, {"Authorization": f"Bearer {secret}"}) if is_api else (page, {})
        path = path.format(key=KEY, reason=reason.replace(" ", "+"), cursor=cursor)
        times = timings(client, path, headers, runs)
        count = statements(app, client, path, headers)
        print(
            f"  {label:28} median {statistics.median(times):4.0f} ms, p95 {p95(times):4.0f} ms, "
            f"{count} statements"
        )
    app.extensions["shipcall.db"].engine.dispose()


def main() -> None:
    """Measure on SQLite, and on PostgreSQL when asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="a PostgreSQL server URL to create a scratch db on")
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        measure(f"sqlite:///{folder}/feedback.db", "SQLite", args.items, args.runs)
    if args.postgres:
        with scratch_postgres(args.postgres, SCRATCH) as url:
            measure(url, "PostgreSQL", args.items, args.runs)


if __name__ == "__main__":
    main()
