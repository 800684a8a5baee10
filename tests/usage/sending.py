"""Events as the product sends them, and the rollup as plain Python counts it from raw events."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from cohorts.models import Account
from usage.models import EventKind, UsageDay, UsageEvent

API = "/api/v1"
EVENTS = f"{API}/events"
WRITE = ("events:write",)
# Ten days before the tests run: late, but never in the future.
AGO = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)
_ids = itertools.count(1)


def event(**values) -> dict:
    """Return an event as the product sends it; values replace the defaults (None drops one)."""
    default = {
        "id": f"evt-{next(_ids)}",
        "account": "acme",
        "action": "opened",
        "object": "report",
        "occurred_at": AGO.isoformat(),
    }
    merged = {**default, **values}
    return {key: value for key, value in merged.items() if value is not None}


def count(db, model) -> int:
    """Return how many rows a table holds, as the database has them now."""
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


def rollup_rows(db) -> dict[tuple, tuple]:
    """Return the rollup: {(account, action, object, place, day, since): (events, first, last)}."""
    rows = db.execute(
        select(
            Account.external_id,
            EventKind.action,
            EventKind.object,
            EventKind.place,
            UsageDay.day,
            UsageDay.since,
            UsageDay.events,
            UsageDay.first_at,
            UsageDay.last_at,
        )
        .join(Account, Account.id == UsageDay.account_id)
        .join(EventKind, EventKind.id == UsageDay.kind_id)
    )
    return {tuple(row[:6]): tuple(row[6:]) for row in rows}


def counted_by_hand(db, zone: ZoneInfo) -> dict[tuple, tuple]:
    """Count the raw events by account, kind and day of `zone`, shaped like rollup_rows."""
    days: dict[tuple, list] = defaultdict(list)
    rows = db.execute(
        select(
            Account.external_id,
            EventKind.action,
            EventKind.object,
            EventKind.place,
            UsageEvent.occurred_at,
        )
        .join(Account, Account.id == UsageEvent.account_id)
        .join(EventKind, EventKind.id == UsageEvent.kind_id)
    )
    for account, action, object_, place, occurred_at in rows:
        local_day = occurred_at.astimezone(zone).date()
        start = datetime.combine(local_day, time(0), tzinfo=zone).astimezone(UTC)
        days[account, action, object_, place, local_day.toordinal(), start].append(occurred_at)
    return {key: (len(times), min(times), max(times)) for key, times in days.items()}
