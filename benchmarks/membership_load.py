"""Load the membership check the product calls, and print throughput and tail latency.

Starts gunicorn (2 workers) on a database holding one running beta with 100,000 members, then
drives it with wrk (16 connections) on four routes: the membership check, the member list
answered 304 through If-None-Match, the full member list, and a trivial JSON route as the
baseline. The ratio to the baseline is what holds on a noisy machine.

    .venv/bin/python benchmarks/membership_load.py                       # SQLite
    .venv/bin/python benchmarks/membership_load.py --postgres postgresql://postgres@127.0.0.1/postgres

wrk comes from Debian (`apt-get install wrk`). The PostgreSQL run creates and drops a scratch
database `shipcall_load_bench` through the server named by --postgres.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from alembic import command
from scratch import scratch_postgres
from sqlalchemy import insert, select, text

from betas.audit import Actor
from betas.auth.tokens import create_token
from betas.auth.users import create_user
from betas.db import Database, alembic_config
from betas.models import Beta, BetaState, Role
from cohorts.models import Account, Cohort, CohortKind, Membership

ROOT = Path(__file__).resolve().parent.parent

MEMBERS = 100_000
SCRATCH = "shipcall_load_bench"
LUA = """
counter = 0
request = function()
  counter = counter + 1
  local path = string.format("%s%d", "{prefix}", (counter * 7919) % {pool})
  return wrk.format("GET", path, {{["Authorization"] = "Bearer {token}"{extra}}})
end
"""


def populate(url: str) -> tuple[str, str]:
    """Migrate an empty database and fill it; return the beta key and a members:read token."""
    command.upgrade(alembic_config(url), "head")
    database = Database(url)
    with database.session() as session:
        admin = create_user(session, "bench@example.com", "x" * 20, Role.ADMIN)
        beta = Beta(
            key="inbox-reports",
            name="Inbox reports",
            owner=admin,
            state=BetaState.RUNNING,
            decision_deadline=date.today() + timedelta(days=30),
        )
        cohort = Cohort(beta=beta, slug="early", name="Early", kind=CohortKind.EARLY_ADOPTERS)
        session.add_all([beta, cohort])
        session.flush()
        _token, secret = create_token(session, "bench", ["members:read"], admin, Actor(admin))
        for start in range(0, MEMBERS, 10_000):
            session.execute(
                insert(Account),
                [
                    {"external_id": f"acct-{i}", "name": f"Account {i}", "attributes": {}}
                    for i in range(start, start + 10_000)
                ],
            )
        session.execute(
            text(
                "INSERT INTO memberships (beta_id, account_id, cohort_id, status, reason, "
                "enrolled_at) SELECT :beta, id, :cohort, 'active', 'bench', :now FROM accounts"
            ),
            {"beta": beta.id, "cohort": cohort.id, "now": "2026-11-01 00:00:00"},
        )
        session.commit()
        assert session.scalar(select(Membership.id).limit(1)) is not None
    database.engine.dispose()
    return "inbox-reports", secret


def free_port() -> int:
    """Return a port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wrk(base: str, prefix: str, token: str, pool: int, extra: str = "", seconds: int = 15):
    """Run wrk with 16 connections; return requests/s, p99 in ms, and non-2xx/3xx responses."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA.format(prefix=prefix, pool=pool, token=token, extra=extra))
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-s", script.name, base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()
    p99 = float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p99, int(errors.group(1)) if errors else 0


def serve(url: str, port: int, access_log: str = "/dev/null") -> subprocess.Popen:
    """Start gunicorn with 2 workers on `url` and wait until it answers."""
    env = {
        **os.environ,
        "SHIPCALL_DATABASE_URL": url,
        "SHIPCALL_SECRET_KEY": "bench-secret",
        "SHIPCALL_PORT": str(port),
        "SHIPCALL_WORKERS": "2",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "gunicorn.conf.py",
            "--access-logfile",
            access_log,
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("gunicorn did not start")


def measure(url: str, label: str, seconds: int) -> None:
    """Populate `url`, serve it, and print the figures for each route."""
    key, token = populate(url)
    port = free_port()
    server = serve(url, port)
    base = f"http://127.0.0.1:{port}"
    try:
        etag = subprocess.run(
            [
                "curl",
                "-s",
                "-D",
                "-",
                "-o",
                "/dev/null",
                "-H",
                f"Authorization: Bearer {token}",
                f"{base}/api/v1/betas/{key}/members",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        etag = re.search(r'(?i)^etag: (".*?")', etag, re.M).group(1).replace('"', '\\"')
        wrk(base, "/api/v1/health?", token, MEMBERS, seconds=3)  # warm up both workers
        rows = {
            "health (baseline)": wrk(base, "/api/v1/health?", token, MEMBERS, seconds=seconds),
            "membership check": wrk(
                base, f"/api/v1/betas/{key}/members/acct-", token, MEMBERS, seconds=seconds
            ),
            "member list, 304": wrk(
                base,
                f"/api/v1/betas/{key}/members?",
                token,
                MEMBERS,
                extra=f', ["If-None-Match"] = "{etag}"',
                seconds=seconds,
            ),
        }
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    baseline = rows["health (baseline)"][0]
    print(f"\n{label}: gunicorn 2 workers, wrk 16 connections, {seconds} s, {MEMBERS:,} members")
    print(f"{'route':<20} {'req/s':>9} {'p99 ms':>8} {'vs baseline':>12} {'errors':>7}")
    for name, (rps, p99, errors) in rows.items():
        print(f"{name:<20} {rps:>9,.0f} {p99:>8.2f} {rps / baseline:>11.0%} {errors:>7}")


def main() -> None:
    """Measure on SQLite, and on PostgreSQL when asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="a PostgreSQL server URL to create a scratch db on")
    parser.add_argument("--seconds", type=int, default=15)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    with tempfile.TemporaryDirectory() as folder:
        measure(f"sqlite:///{folder}/load.db", "SQLite", args.seconds)
    if args.postgres:
        with scratch_postgres(args.postgres, SCRATCH) as url:
            measure(url, "PostgreSQL", args.seconds)


if __name__ == "__main__":
    main()
