"""Time the spreadsheet sync against the fake Sheets server, and prove it whole under faults.

A running beta with 10,000 feedback items, linked to a spreadsheet on the fake server
(tests/fakes/sheets.py, real HTTP on 127.0.0.1, real gspread and google-auth). It prints, for
each sync, the requests the fake counted (the token's apart) and the wall time:

1. the first sync (10,000 rows written);
2. one after 500 items changed and 100 were logged;
3. one after people edited 200 rows in the sheet (the edits taken back).

Then the faults: a burst of 429s with Retry-After, 500s past the last try (the sync fails, and
the next one recovers), a write slower than the timeout whose change lands (retried), and a
`feedback sync --watch` worker killed with SIGKILL in the middle of its write (a second worker
takes over once the lease ends). After each, the sheet must equal the database: every item's
row once, with Shipcall's values, no other row.

    PYTHONPATH=. .venv/bin/python benchmarks/sheet_sync.py                 # SQLite
    PYTHONPATH=. .venv/bin/python benchmarks/sheet_sync.py --postgres postgresql://postgres@127.0.0.1/postgres

The PostgreSQL run creates and drops a scratch database `shipcall_sheet_bench`. Figures:
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from alembic import command
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from betas.audit import Actor
from betas.auth.users import create_user
from betas.db import alembic_config
from betas.models import Beta, BetaState, Role, User
from cohorts.models import Account
from feedback import log, sync
from feedback.models import FeedbackItem, SheetLink
from feedback.rows import RowFormat, cells
from feedback.sheet_links import HEADER, link_sheet
from feedback.sheets import Sheets
from shipcall.app import create_app
from tests.fakes.sheets import FakeSheets, service_account_key
from tests.helpers import CHEAP_HASH

ROOT = Path(__file__).resolve().parent.parent
SPREADSHEET = "1BenchmarkSpreadsheetKey0123456789"
TYPES = ("feature_request", "blocker", "comprehension", "usability", "improvement", "question")
TIMEOUT, ATTEMPTS = 2.0, 3


def seed(app) -> None:
    """Add a PM, a running beta and 200 accounts."""
    with app.extensions["shipcall.db"].session() as session:
        pm = create_user(session, "pm@example.com", "x" * 16, Role.PM, hash_method=CHEAP_HASH)
        beta = Beta(
            key="inbox-reports",
            name="Inbox reports",
            owner=pm,
            state=BetaState.RUNNING,
            decision_deadline=date(2099, 1, 1),
        )
        accounts = [Account(external_id=f"acct-{n}", name=f"Account {n}") for n in range(200)]
        session.add_all([beta, *accounts])
        session.commit()


def add_items(app, count: int) -> None:
    """Log `count` codified items (their text formula-looking), queued for the sheet."""
    with app.extensions["shipcall.db"].session() as session:
        pm = session.scalar(select(User))
        beta = session.scalar(select(Beta))
        accounts = list(session.scalars(select(Account).order_by(Account.id)))
        for n in range(count):
            session.add(
                FeedbackItem(
                    beta=beta,
                    account=accounts[n % len(accounts)],
                    original=f"Customer {n} said: reports are slow =SUM(A1) +1 @here -5",
                    source="call",
                    type=TYPES[n % len(TYPES)],
                    summary=f"Slow reports {n}",
                    reason="Big inboxes",
                    logged_by=pm,
                )
            )
        session.commit()


def timed_sync(app, sheets, fake, settings) -> tuple[sync.SyncReport, int, float]:
    """Sync every linked beta once; return its report, the requests counted and the time."""
    fake.reset_counts()
    started = time.perf_counter()
    reports = sync.run_pass(app.extensions["shipcall.db"], sheets, settings, every=True)
    return reports[0], fake.count(), time.perf_counter() - started


def compare(app, fake) -> tuple[int, int, int]:
    """Return (items missing from the sheet, ids on more than one row, rows unlike Shipcall's)."""
    rows = fake.sheet(SPREADSHEET).values()
    header = rows[0]
    at = {name: header.index(name) for name in HEADER}
    counts: dict[str, int] = {}
    by_id = {}
    for row in rows[1:]:
        key = row[at["id"]] if len(row) > at["id"] else ""
        counts[key] = counts.get(key, 0) + 1
        by_id[key] = row
    database = app.extensions["shipcall.db"]
    settings = app.config["SHIPCALL"]
    fmt = RowFormat(settings.zone, settings.public_url)
    with database.session(write=False) as session:
        items = list(
            session.scalars(
                select(FeedbackItem).options(
                    selectinload(FeedbackItem.account),
                    selectinload(FeedbackItem.cohort),
                    selectinload(FeedbackItem.logged_by),
                )
            )
        )
        ids = {str(item.id) for item in items}
        missing = sum(1 for item in items if str(item.id) not in by_id)
        differing = 0
        for item in items:
            row = by_id.get(str(item.id))
            if row is None:
                continue
            want = cells(item, fmt)
            got = {name: (row[i] if i < len(row) else "") for name, i in at.items()}
            if any(str(want[name]) != got[name] for name in HEADER):
                differing += 1
        extra = sum(1 for key in counts if key not in ids)
    return missing, sum(n - 1 for n in counts.values() if n > 1) + extra, differing


def change_items(app, changed: int, new: int) -> None:
    """Change the summary of `changed` items and log `new` ones, through the log's services."""
    database = app.extensions["shipcall.db"]
    with database.session() as session:
        pm = session.scalar(select(User))
        beta = session.scalar(select(Beta))
        for item in session.scalars(select(FeedbackItem).order_by(FeedbackItem.id).limit(changed)):
            log.edit(session, Actor(pm), item, {"summary": f"{item.summary} (again)"}, types=TYPES)
        for n in range(new):
            log.log(
                session,
                Actor(pm),
                beta,
                account=f"acct-{n % 200}",
                original=f"New {n}",
                types=TYPES,
            )
        session.commit()


def edit_sheet(fake, rows: int) -> None:
    """Edit the summary of the first `rows` rows in the sheet, as people would."""
    sheet = fake.sheet(SPREADSHEET)
    at = sheet.rows[0].index("summary")
    for row in sheet.rows[1 : rows + 1]:
        row[at] = f"{row[at]} (edited in the sheet)"


def report_line(name: str, report, requests: int, seconds: float) -> None:
    """Print a sync's row of the table."""
    print(
        f"| {name} | {report.appended} added, {report.written} updated, {report.pulled} taken "
        f"back | {requests} | {seconds:.2f} s |"
        + (f" error: {report.error}" if report.error else "")
    )


def kill_mid_write(app, fake, env: dict) -> float:
    """Start a watching worker, SIGKILL it while its write is in flight; return the lease."""
    change_items(app, 0, 300)
    fake.fail(1, delay=3.0, applied=True, where="values:batchUpdate")
    fake.reset_counts()
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "feedback", "sync", "--watch"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while fake.kinds()["values_batch_update"] == 0 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    return sync.lease_for(app.config["SHIPCALL"]).total_seconds()


def main() -> None:
    """Run the syncs and the faults, printing their figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--postgres", help="a PostgreSQL server URL to create a scratch db on")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        if args.postgres:
            from benchmarks.scratch import scratch_postgres

            url = stack.enter_context(scratch_postgres(args.postgres, "shipcall_sheet_bench"))
        else:
            url = f"sqlite:///{tmp / 'bench.db'}"
        fake = stack.enter_context(FakeSheets())
        key = service_account_key(fake, tmp)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SHIPCALL_DATABASE_URL": url,
            "SHIPCALL_SECRET_KEY": "benchmark",
            "SHIPCALL_GOOGLE_CREDENTIALS": str(key),
            "SHIPCALL_SHEETS_API_URL": fake.url,
            "SHIPCALL_SHEETS_TIMEOUT": str(TIMEOUT),
            "SHIPCALL_SHEETS_ATTEMPTS": str(ATTEMPTS),
        }
        command.upgrade(alembic_config(url), "head")
        app = create_app(
            {
                "database_url": url,
                "secret_key": "benchmark",
                "google_credentials": str(key),
                "sheets_api_url": fake.url,
                "sheets_timeout": TIMEOUT,
                "sheets_attempts": ATTEMPTS,
            }
        )
        settings = app.config["SHIPCALL"]
        sheets = Sheets.from_settings(settings)
        seed(app)
        fake.add_spreadsheet(SPREADSHEET, shared_with=sheets.email)
        database = app.extensions["shipcall.db"]
        with database.session() as session:
            link_sheet(
                session,
                Actor(session.scalar(select(User))),
                session.scalar(select(Beta)),
                SPREADSHEET,
                sheets,
            )
            session.commit()
        started = time.perf_counter()
        add_items(app, args.items)
        print(
            f"{args.items:,} items logged in {time.perf_counter() - started:.1f} s "
            f"({'PostgreSQL' if args.postgres else 'SQLite'})\n"
        )
        print("| sync | what it did | requests | time |\n| --- | --- | --- | --- |")
        report_line("first", *timed_sync(app, sheets, fake, settings))
        change_items(app, 500, 100)
        report_line("500 changed, 100 new", *timed_sync(app, sheets, fake, settings))
        edit_sheet(fake, 200)
        report_line("200 rows edited in the sheet", *timed_sync(app, sheets, fake, settings))
        print("\nFaults (sheet against database: missing, duplicated, differing rows):\n")
        change_items(app, 50, 50)
        fake.fail(ATTEMPTS - 1, status=429, retry_after="1")
        report = timed_sync(app, sheets, fake, settings)
        print(
            f"- 429 burst ({ATTEMPTS - 1}, Retry-After: 1): {report[0].said()}; "
            f"{report[1]} requests, "
            f"{report[2]:.1f} s; {compare(app, fake)}"
        )
        change_items(app, 50, 50)
        fake.fail(ATTEMPTS, status=500, where="values:batchUpdate")
        failed = timed_sync(app, sheets, fake, settings)[0]
        recovered = timed_sync(app, sheets, fake, settings)
        print(
            f"- 500 on every try of the write: {failed.said()}; then {recovered[0].said()}; "
            f"{compare(app, fake)}"
        )
        change_items(app, 50, 50)
        fake.fail(1, delay=TIMEOUT + 1, applied=True, where="values:batchUpdate")
        slow = timed_sync(app, sheets, fake, settings)
        print(
            f"- a write slower than the {TIMEOUT:.0f} s timeout, landed: {slow[0].said()}; "
            f"{slow[1]} requests, {slow[2]:.1f} s; {compare(app, fake)}"
        )
        lease = kill_mid_write(app, fake, env)
        print(f"- worker SIGKILLed mid-write: waiting out its lease ({lease:.0f} s)")
        time.sleep(lease + 1)
        after = timed_sync(app, sheets, fake, settings)
        with database.session(write=False) as session:
            items = len(list(session.scalars(select(FeedbackItem.id))))
            link = session.scalar(select(SheetLink))
            pending = link is not None and link.last_error
        print(
            f"  then a second worker: {after[0].said()}; {compare(app, fake)}; "
            f"{items:,} items, {len(fake.sheet(SPREADSHEET).values()) - 1:,} rows; "
            f"last error: {pending or 'none'}"
        )


if __name__ == "__main__":
    main()
