"""Keep the per-day rollup in step with the events: add the new ones, or count again from all.

Ingest adds the events it inserted, in the same transaction, aggregated in Python to one row per
account, kind and day of SHIPCALL_TIMEZONE, and upserted in one statement: a row that exists
gets the counts added and its first and last times widened. `usage rebuild` counts every day
again from the raw events, after a change of the zone (whose days the rollup uses).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from betas.db import Insert, insert_rows
from betas.wording import plural
from usage.models import UsageDay, UsageEvent

# Events read at once by a rebuild: memory stays flat however many there are.
REBUILD_CHUNK = 10_000


class EventRow(Protocol):
    """What the rollup needs of an event."""

    account_id: int
    kind_id: int
    occurred_at: datetime


@dataclass(frozen=True)
class Rebuilt:
    """What a rebuild counted."""

    events: int
    days: int

    def __str__(self) -> str:
        return f"{plural(self.events, 'event')} in {plural(self.days, 'day row')}"


def day_start(day: int, zone: ZoneInfo) -> datetime:
    """Return when a day (a day number of the zone) begins, in UTC.

    Where the zone skips its midnight, the day begins when the clocks jump: the offset before
    the change (fold 0) gives that moment.
    """
    return datetime.fromordinal(day).replace(tzinfo=zone).astimezone(UTC)


def add(session: Session, events: Iterable[EventRow], zone: ZoneInfo) -> None:
    """Add events to the rollup in one statement; never commit.

    Only events just stored may be added: an event added twice counts twice.
    """
    days: dict[tuple[int, int, int], list] = {}
    for event in events:
        day = event.occurred_at.astimezone(zone).toordinal()
        known = days.get((event.account_id, event.kind_id, day))
        if known is None:
            days[event.account_id, event.kind_id, day] = [1, event.occurred_at, event.occurred_at]
        else:
            known[0] += 1
            if event.occurred_at < known[1]:
                known[1] = event.occurred_at
            elif event.occurred_at > known[2]:
                known[2] = event.occurred_at
    if not days:
        return
    starts = {day: day_start(day, zone) for day in {key[2] for key in days}}
    rows = [
        {
            "account_id": account_id,
            "kind_id": kind_id,
            "day": day,
            "since": starts[day],
            "events": count,
            "first_at": first_at,
            "last_at": last_at,
        }
        # Sorted, so that two PostgreSQL transactions lock the rows they share in one order.
        for (account_id, kind_id, day), (count, first_at, last_at) in sorted(days.items())
    ]
    table = UsageDay.__table__
    postgres = session.get_bind().dialect.name == "postgresql"
    earliest, latest = (func.least, func.greatest) if postgres else (func.min, func.max)

    def add_to_existing(insert: Insert) -> Insert:
        return insert.on_conflict_do_update(
            index_elements=[table.c.account_id, table.c.kind_id, table.c.day, table.c.since],
            set_={
                "events": table.c.events + insert.excluded.events,
                "first_at": earliest(table.c.first_at, insert.excluded.first_at),
                "last_at": latest(table.c.last_at, insert.excluded.last_at),
            },
        )

    insert_rows(session, table, rows, add_to_existing)


def count_events(session: Session) -> int:
    """Return how many events are stored (what a rebuild will read)."""
    return session.scalar(select(func.count()).select_from(UsageEvent)) or 0


def rebuild(
    session: Session, zone: ZoneInfo, progress: Callable[[int], object] | None = None
) -> Rebuilt:
    """Count the rollup again from the raw events, in chunks; never commit.

    `progress` is called with the number of events read since its last call. On PostgreSQL the
    events are locked against new ones until the caller commits: an event stored meanwhile
    would otherwise be counted by its own ingest and by the rebuild.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE usage_events IN SHARE MODE"))
    session.execute(delete(UsageDay))
    read = select(UsageEvent.id, UsageEvent.account_id, UsageEvent.kind_id, UsageEvent.occurred_at)
    events, last_id = 0, 0
    while chunk := session.execute(
        read.where(UsageEvent.id > last_id).order_by(UsageEvent.id).limit(REBUILD_CHUNK)
    ).all():
        add(session, chunk, zone)
        events += len(chunk)
        last_id = chunk[-1].id
        if progress is not None:
            progress(len(chunk))
    days = session.scalar(select(func.count()).select_from(UsageDay)) or 0
    return Rebuilt(events, days)
