r"""Load POST /api/v1/events as products send it, and print sustained events/s and batch latency.

Starts gunicorn (2 workers) on a fresh database, then 4 senders (threads, http.client) post
batches of 1,000 events over 10,000 accounts and 20 kinds for --seconds: events/s sustained, and
p50 / p95 ms per batch both as the senders wait for it (with 4 senders on 2 workers, a batch
waits for another one) and as gunicorn logs its request time; the workers' CPU per batch. Then
the same batches are sent again: the counts of events, of the rollup's events and of accounts,
before and after, show that nothing was added. Last, the same event rows are inserted with one
plain executemany (a SQLAlchemy Core insert of the event rows only, rolled back), and the ratio
of the ingest's rate to that one is printed.

    .venv/bin/python benchmarks/events_load.py --seconds 10                # SQLite
    .venv/bin/python benchmarks/events_load.py --seconds 10 \
        --postgres postgresql://postgres@127.0.0.1:5432/postgres           # and PostgreSQL
    .venv/bin/python benchmarks/events_load.py --rate 15000                # at the target's rate

With --rate the senders pace themselves to that many events a second (the n-th batch leaves
no sooner than n batches' worth of that rate after the start), so the latency is the one at
that load, not at the most the server takes, where each batch queues behind another.

The PostgreSQL run creates and drops a scratch database `shipcall_events_bench` through the
server named by --postgres. The machine's load average is printed before and after each run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from membership_load import free_port, serve
from scratch import scratch_postgres
from sqlalchemy import func, insert, select

from betas.audit import Actor
from betas.auth.tokens import create_token
from betas.auth.users import create_user
from betas.db import Database, alembic_config
from betas.models import Role
from cohorts.models import Account
from usage.models import EventKind, UsageDay, UsageEvent

SCRATCH = "shipcall_events_bench"
SENDERS = 4
BATCH = 1_000
ACCOUNTS = 10_000
KINDS = [
    (action, obj, place)
    for action, obj in [
        ("opened", "report"),
        ("shared", "report"),
        ("exported", "report"),
        ("opened", "dashboard"),
        ("created", "rule"),
        ("replied", "conversation"),
        ("assigned", "conversation"),
    ]
    for place in ("inbox", "mobile", "")
][:20]
# Batches are made before the clock starts, so that the senders spend no CPU making them: this
# many a second, well above what two workers take here (a run that uses them all says so).
MAX_BATCHES_PER_SECOND = 40


def make_batches(count: int, seed: int = 7) -> list[bytes]:
    """Return `count` request bodies of BATCH events each, every event with its own uuid4."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    bodies = []
    for _ in range(count):
        events = []
        for _ in range(BATCH):
            action, obj, place = rng.choice(KINDS)
            event = {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "account": f"acct-{rng.randrange(ACCOUNTS)}",
                "user": f"user-{rng.randrange(5 * ACCOUNTS)}",
                "action": action,
                "object": obj,
                "metadata": {"plan": rng.choice(["free", "pro", "team"]), "ms": rng.randrange(900)},
                "occurred_at": (now - timedelta(seconds=rng.randrange(7 * 86_400))).isoformat(),
            }
            if place:
                event["place"] = place
            events.append(event)
        bodies.append(json.dumps({"events": events}).encode())
    return bodies


def populate(url: str) -> str:
    """Migrate an empty database; return an events:write token."""
    command.upgrade(alembic_config(url), "head")
    database = Database(url)
    with database.session() as session:
        admin = create_user(session, "bench@example.com", "x" * 20, Role.ADMIN)
        _token, secret = create_token(session, "bench", ["events:write"], admin, Actor(admin))
        session.commit()
    database.engine.dispose()
    return secret


@dataclass
class Sent:
    """What the senders saw."""

    latencies: list[float] = field(default_factory=list)
    accepted: int = 0
    duplicates: int = 0
    failures: list[str] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    behind: float = 0.0  # paced: the most a batch was sent after its time


def send_all(
    port: int, token: str, bodies: list[bytes], seconds: float | None, rate: float | None = None
) -> tuple[Sent, float]:
    """Post bodies from SENDERS threads until none is left or `seconds` pass; say what came back.

    With `rate` (events a second), the n-th batch is sent no sooner than n batches' worth of
    that rate after the start: the load the target names, rather than all the server takes.
    """
    sent = Sent()
    lock = threading.Lock()
    queue = enumerate(bodies)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    start = time.perf_counter()
    deadline = None if seconds is None else start + seconds

    def sender():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while deadline is None or time.perf_counter() < deadline:
            with lock:
                index, body = next(queue, (0, None))
            if body is None:
                return
            if rate is not None:
                behind = time.perf_counter() - (start + index * BATCH / rate)
                if behind < 0:
                    time.sleep(-behind)
                with lock:
                    sent.behind = max(sent.behind, behind)
            began = time.perf_counter()
            connection.request("POST", "/api/v1/events", body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            took = time.perf_counter() - began
            with lock:
                if response.status != 200:
                    sent.failures.append(f"{response.status} {answer[:200]!r}")
                    continue
                result = json.loads(answer)
                sent.latencies.append(took)
                sent.accepted += result["accepted"]
                sent.duplicates += result["duplicates"]
                sent.bodies.append(body)

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent, time.perf_counter() - start


def stored(url: str) -> tuple[int, int, int]:
    """Return the events stored, the events the rollup counts, and the accounts."""
    database = Database(url)
    with database.session(write=False) as session:
        counts = (
            session.scalar(select(func.count()).select_from(UsageEvent)),
            session.scalar(select(func.coalesce(func.sum(UsageDay.events), 0))),
            session.scalar(select(func.count()).select_from(Account)),
        )
    database.engine.dispose()
    return counts


def plain_executemany(url: str, bodies: list[bytes]) -> tuple[int, float]:
    """Insert the same event rows with one Core executemany, rolled back; return rows, seconds."""
    database = Database(url)
    with database.engine.connect() as connection:
        accounts = dict(connection.execute(select(Account.external_id, Account.id)).all())
        kinds = {
            (row.action, row.object, row.place): row.id
            for row in connection.execute(select(EventKind))
        }
        now = datetime.now(UTC)
        rows = [
            {
                # New ids: the stored events hold the sent ones.
                "client_event_id": "copy-" + event["id"],
                "account_id": accounts[event["account"]],
                "kind_id": kinds[(event["action"], event["object"], event.get("place", ""))],
                "user_ref": event["user"],
                "metadata": event["metadata"],
                "occurred_at": datetime.fromisoformat(event["occurred_at"]),
                "received_at": now,
            }
            for body in bodies
            for event in json.loads(body)["events"]
        ]
        began = time.perf_counter()
        connection.execute(insert(UsageEvent.__table__), rows)
        took = time.perf_counter() - began
        connection.rollback()
    database.engine.dispose()
    return len(rows), took


def load() -> str:
    """Say the machine's load average: other jobs share its two cores."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} (2 cores)"


def percentile(values: list[float], share: float) -> float:
    """Return the value below which `share` of the values fall (nearest rank), in ms."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))] * 1000


def spread(values: list[float]) -> str:
    """Say p50 / p95 / max of times in seconds, in ms."""
    return (
        f"p50 {percentile(values, 0.5):.0f} ms, p95 {percentile(values, 0.95):.0f} ms, "
        f"max {max(values) * 1000:.0f} ms"
    )


def worker_cpu(server: subprocess.Popen) -> float:
    """Return the CPU seconds gunicorn's workers (the server's children) have used."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == server.pid:  # the parent's pid
            total += int(fields[11]) + int(fields[12])  # user and system ticks
    return total / os.sysconf("SC_CLK_TCK")


def server_times(log: Path, start: int) -> tuple[list[float], int]:
    """Return the request times gunicorn logged after byte `start`, and where the log ends."""
    text = log.read_bytes()[start:].decode()
    times = [float(line.rsplit(" ", 1)[1].rstrip("s")) for line in text.splitlines() if line]
    return times, start + len(text.encode())


def measure(url: str, label: str, seconds: int, rate: float | None = None) -> None:
    """Populate `url`, serve it, load it, send it all again, compare to a plain executemany."""
    paced = "as fast as it takes them" if rate is None else f"paced at {rate:,.0f} events/s"
    print(
        f"\n{label}: gunicorn 2 workers, {SENDERS} senders, batches of {BATCH:,} events, "
        f"{ACCOUNTS:,} accounts, {len(KINDS)} kinds, {seconds} s, {paced}"
    )
    print(f"  before: {load()}")
    token = populate(url)
    bodies = make_batches(seconds * MAX_BATCHES_PER_SECOND + 10)
    port = free_port()
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        server = serve(url, port, access_log=log.name)
        try:
            warm, _ = send_all(port, token, bodies[:4], None)  # each worker imports, connects
            _, offset = server_times(Path(log.name), 0)
            cpu = worker_cpu(server)
            sent, elapsed = send_all(port, token, bodies[4:], seconds, rate)
            cpu = worker_cpu(server) - cpu
            handled, offset = server_times(Path(log.name), offset)
            before = stored(url)
            again_cpu = worker_cpu(server)
            again, again_elapsed = send_all(port, token, warm.bodies + sent.bodies, None)
            again_cpu = worker_cpu(server) - again_cpu
            handled_again, offset = server_times(Path(log.name), offset)
            after = stored(url)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    rows, took = plain_executemany(url, warm.bodies + sent.bodies)
    rate = sent.accepted / elapsed
    batches = len(sent.latencies)
    print(
        f"  sustained: {rate:,.0f} events/s ({batches} batches in {elapsed:.1f} s; "
        f"{sent.accepted:,} accepted, {sent.duplicates} duplicates, {len(sent.failures)} failed)"
    )
    print(f"  per batch, as the senders wait for it: {spread(sent.latencies)}")
    if rate is not None:
        print(f"  paced: a batch went at most {sent.behind * 1000:.0f} ms after its time")
    print(f"  per batch, in the server (gunicorn's request time): {spread(handled)}")
    print(f"  workers' CPU: {cpu / batches * 1000:.0f} ms a batch")
    print(
        f"  sent again: {len(again.latencies)} batches in {again_elapsed:.1f} s, "
        f"{again.accepted} accepted, {again.duplicates:,} duplicates; senders "
        f"{spread(again.latencies)}; server {spread(handled_again)}; workers' CPU "
        f"{again_cpu / len(again.latencies) * 1000:.0f} ms a batch"
    )
    verdict = "nothing added" if before == after else "CHANGED"
    print(
        f"  stored (events, rollup's events, accounts): {before} before, {after} after: {verdict}"
    )
    plain = rows / took
    print(
        f"  plain executemany of the same {rows:,} rows: {plain:,.0f} rows/s ({took:.1f} s); "
        f"the ingest sustains {rate / plain:.0%} of that"
    )
    if len(warm.bodies) + len(sent.bodies) + len(sent.failures) == len(bodies):
        print(f"  every batch made was sent before {seconds} s: raise MAX_BATCHES_PER_SECOND")
    for failure in sent.failures[:5] + again.failures[:5]:
        print(f"  failed: {failure}")
    print(f"  after: {load()}")


def main() -> None:
    """Measure on SQLite, and on PostgreSQL when asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="a PostgreSQL server URL to create a scratch db on")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--rate", type=float, help="events a second to send at (default: as fast as taken)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        measure(f"sqlite:///{folder}/events.db", "SQLite", args.seconds, args.rate)
    if args.postgres:
        with scratch_postgres(args.postgres, SCRATCH) as url:
            measure(url, "PostgreSQL", args.seconds, args.rate)


if __name__ == "__main__":
    main()
