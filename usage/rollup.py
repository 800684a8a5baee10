"""Keep the per-day rollup in step with the events: add the new ones, or count again from all.

Ingest adds the events it inserted, in the same transaction, aggregated in Python to one row per
account, kind, day of SHIPCALL_TIMEZONE and span, and upserted in one statement: a row that
exists gets the counts added and its first and last times widened; the stored metric values of
the accounts' betas are marked stale from the events' earliest day (`usage.value_store`).
`usage rebuild` counts every day again from the raw events, after a change of the zone (whose
days the rollup uses), and forgets every stored value.

A day is split where its account joined a beta, so that a beta counts only what the account
did from then on: a row's `since` is the greatest of the day's start and the account's join
times that day at or before the event. When a membership gets its join time, the account's
rows of that day are counted again from its raw events (`recount`, called by `usage.join_days`).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, func, or_, select, text, tuple_
from sqlalchemy.orm import Session

from betas.db import Insert, among, write_rows
from betas.wording import plural
from cohorts.models import Membership
from usage import value_store
from usage.models import UsageDay, UsageEvent

# (account id, day number) -> the join times of the account that day, sorted.
Joins = Mapping[tuple[int, int], Sequence[datetime]]

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


def day_of(moment: datetime, zone: ZoneInfo) -> int:
    """Return the day number of the zone's day a moment falls in."""
    return moment.astimezone(zone).toordinal()


def _by_account_day(rows: Iterable[tuple[int, datetime]], zone: ZoneInfo) -> dict:
    joins: dict[tuple[int, int], list[datetime]] = defaultdict(list)
    for account_id, joined_at in rows:
        joins[account_id, day_of(joined_at, zone)].append(joined_at)
    return {key: sorted(set(times)) for key, times in joins.items()}


def memberships_of(
    session: Session, account_days: Iterable[tuple[int, int]], zone: ZoneInfo
) -> tuple[dict[tuple[int, int], list[datetime]], set[int]]:
    """Return the join times of these accounts on these days, and the betas they joined.

    One statement: the accounts' memberships that joined (an account is in a few betas).
    """
    account_days = set(account_days)
    if not account_days:
        return {}, set()
    rows = session.execute(
        select(Membership.account_id, Membership.beta_id, Membership.joined_at).where(
            among(session, Membership.account_id, {account for account, _ in account_days}),
            Membership.joined_at.is_not(None),
        )
    ).all()
    joins = _by_account_day(((account, joined) for account, _, joined in rows), zone)
    return {k: v for k, v in joins.items() if k in account_days}, {beta for _, beta, _ in rows}


def all_joins(session: Session, zone: ZoneInfo) -> dict[tuple[int, int], list[datetime]]:
    """Return every join time, by account and day (what a rebuild splits days at)."""
    rows = session.execute(
        select(Membership.account_id, Membership.joined_at).where(Membership.joined_at.is_not(None))
    ).all()
    return _by_account_day(rows, zone)


def span_start(start: datetime, joins: Sequence[datetime], moment: datetime) -> datetime:
    """Return where the span holding `moment` begins: the last join at or before it, or `start`."""
    at = bisect.bisect_right(joins, moment)
    return joins[at - 1] if at else start


def add(
    session: Session, events: Iterable[EventRow], zone: ZoneInfo, joins: Joins | None = None
) -> None:
    """Add events to the rollup in one statement (and one to read the join times); never commit.

    Only events just stored may be added: an event added twice counts twice. The stored metric
    values of the betas the accounts joined are marked stale from the events' earliest day (a
    statement more, when there are any). `joins` spares the read, and the marking, when the
    caller has them: a rebuild reads them all once, and forgets every stored value after.
    """
    dated = [(event, day_of(event.occurred_at, zone)) for event in events]
    if not dated:
        return
    betas: set[int] = set()
    if joins is None:
        joins, betas = memberships_of(
            session, {(event.account_id, day) for event, day in dated}, zone
        )
    starts: dict[int, datetime] = {}
    spans: dict[tuple[int, int, int, datetime], list] = {}
    for event, day in dated:
        start = starts.get(day)
        if start is None:
            start = starts[day] = day_start(day, zone)
        joined = joins.get((event.account_id, day))
        since = span_start(start, joined, event.occurred_at) if joined else start
        key = (event.account_id, event.kind_id, day, since)
        known = spans.get(key)
        if known is None:
            spans[key] = [1, event.occurred_at, event.occurred_at]
        else:
            known[0] += 1
            if event.occurred_at < known[1]:
                known[1] = event.occurred_at
            elif event.occurred_at > known[2]:
                known[2] = event.occurred_at
    rows = [
        {
            "account_id": account_id,
            "kind_id": kind_id,
            "day": day,
            "since": since,
            "events": count,
            "first_at": first_at,
            "last_at": last_at,
        }
        # Sorted, so that two PostgreSQL transactions lock the rows they share in one order.
        for (account_id, kind_id, day, since), (count, first_at, last_at) in sorted(spans.items())
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

    write_rows(session, table, rows, add_to_existing)
    # Last, so that the marks of the accounts' betas stay locked for no longer than the commit.
    value_store.mark_dirty(session, betas, min(day for _, day in dated))


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
    joins = all_joins(session, zone)
    read = select(UsageEvent.id, UsageEvent.account_id, UsageEvent.kind_id, UsageEvent.occurred_at)
    events, last_id = 0, 0
    while chunk := session.execute(
        read.where(UsageEvent.id > last_id).order_by(UsageEvent.id).limit(REBUILD_CHUNK)
    ).all():
        add(session, chunk, zone, joins)
        events += len(chunk)
        last_id = chunk[-1].id
        if progress is not None:
            progress(len(chunk))
    value_store.forget_all(session)
    days = session.scalar(select(func.count()).select_from(UsageDay)) or 0
    return Rebuilt(events, days)


def recount(session: Session, account_days: Iterable[tuple[int, int]], zone: ZoneInfo) -> None:
    """Count these accounts' days again from their raw events, split at their join times.

    Runs inside a flush (`usage.join_days`): only Core statements, which do not flush again.
    """
    account_days = sorted(set(account_days))
    if not account_days:
        return
    table = UsageDay.__table__
    events = UsageEvent.__table__
    session.execute(table.delete().where(tuple_(table.c.account_id, table.c.day).in_(account_days)))
    spans = [
        and_(
            events.c.account_id == account_id,
            events.c.occurred_at >= day_start(day, zone),
            events.c.occurred_at < day_start(day + 1, zone),
        )
        for account_id, day in account_days
    ]
    rows = session.execute(
        select(events.c.account_id, events.c.kind_id, events.c.occurred_at).where(or_(*spans))
    ).all()
    add(session, rows, zone)
