"""The per-day rollup: always what the raw events say, in the configured zone; rebuilt on demand."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete

from tests.usage.sending import AGO, count, counted_by_hand, event, rollup_rows
from usage import rollup
from usage.events import Ingested, ingest_items
from usage.models import UsageDay

NEW_YORK = ZoneInfo("America/New_York")


def batches() -> list[list[dict]]:
    """Return batches of events across midnights, DST changes, accounts and kinds, with repeats."""
    retried = [
        event(id="r1", occurred_at="2026-03-08T04:59:00+00:00"),  # 23:59 in New York
        event(id="r2", occurred_at="2026-03-08T05:00:00+00:00"),  # midnight there
        event(id="r3", account="globex", occurred_at="2026-03-08T06:59:00+00:00"),
        event(id="r4", account="globex", occurred_at="2026-03-08T07:30:00+00:00"),  # DST
    ]
    return [
        retried,
        [
            *retried,  # a retry: nothing of it counts again
            event(id="f1", occurred_at="2026-11-01T03:59:00+00:00"),  # fall back: 25 h day
            event(id="f2", occurred_at="2026-11-01T05:30:00+00:00"),
            event(id="f3", occurred_at="2026-11-01T06:30:00+00:00"),
            event(id="f4", occurred_at="2026-11-02T04:59:00+00:00"),
            event(id="f1", action="shared"),  # repeated in the batch: the first wins
        ],
        [
            event(id="k1", action="shared", place="inbox", occurred_at=AGO.isoformat()),
            event(id="k2", action="Shared", place=" Inbox", occurred_at=AGO.isoformat()),
            event(id="k3", action="shared", occurred_at=(AGO - timedelta(days=200)).isoformat()),
            event(id="k4", account="initech", occurred_at="2026-06-30T23:30:00-07:00"),
        ],
    ]


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_the_rollup_equals_the_raw_events_counted_by_hand(db, zone):
    zone = ZoneInfo(zone)
    results = [ingest_items(db, batch, zone) for batch in batches()]
    assert results == [Ingested(4, 0), Ingested(4, 5), Ingested(4, 0)]
    assert rollup_rows(db) == counted_by_hand(db, zone)
    assert sum(events for events, _first, _last in rollup_rows(db).values()) == 12


def test_days_are_the_zones_days_from_their_start_there(db):
    ingest_items(db, batches()[0], NEW_YORK)
    march_7, march_8 = datetime(2026, 3, 7).toordinal(), datetime(2026, 3, 8).toordinal()

    def utc(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 3, day, hour, minute, tzinfo=UTC)

    assert rollup_rows(db) == {
        # 23:59 on the 7th in New York, though the 8th in UTC.
        ("acme", "opened", "report", "", march_7, utc(7, 5)): (1, utc(8, 4, 59), utc(8, 4, 59)),
        ("acme", "opened", "report", "", march_8, utc(8, 5)): (1, utc(8, 5), utc(8, 5)),
        # 01:59 EST and 03:30 EDT: one day, clocks changed in between.
        ("globex", "opened", "report", "", march_8, utc(8, 5)): (2, utc(8, 6, 59), utc(8, 7, 30)),
    }


def test_the_api_counts_days_in_the_configured_zone(app, db, send, monkeypatch):
    settings = dataclasses.replace(app.config["SHIPCALL"], timezone="America/New_York")
    monkeypatch.setitem(app.config, "SHIPCALL", settings)
    for batch in batches():
        assert send(*batch).status_code == 200
    assert rollup_rows(db) == counted_by_hand(db, NEW_YORK)
    assert rollup_rows(db) != counted_by_hand(db, ZoneInfo("UTC"))


def test_a_day_whose_midnight_the_zone_skips_starts_when_the_clocks_jump():
    santiago = ZoneInfo("America/Santiago")  # 2026-09-06 00:00 -04 becomes 01:00 -03
    day = datetime(2026, 9, 6).toordinal()
    start = rollup.day_start(day, santiago)
    assert start == datetime(2026, 9, 6, 4, tzinfo=UTC)
    assert start.astimezone(santiago).date().toordinal() == day
    assert (start - timedelta(microseconds=1)).astimezone(santiago).date().toordinal() == day - 1


def test_rebuild_restores_a_deleted_rollup_reading_in_chunks(db, monkeypatch):
    for batch in batches():
        ingest_items(db, batch, NEW_YORK)
    kept = rollup_rows(db)
    db.execute(delete(UsageDay))
    assert count(db, UsageDay) == 0
    monkeypatch.setattr(rollup, "REBUILD_CHUNK", 5)  # three chunks, days spanning them
    read = []
    result = rollup.rebuild(db, NEW_YORK, progress=read.append)
    assert result == rollup.Rebuilt(events=12, days=len(kept))
    assert read == [5, 5, 2]
    assert rollup_rows(db) == kept


def test_rebuild_counts_the_days_of_a_new_zone(db):
    for batch in batches():
        ingest_items(db, batch, ZoneInfo("UTC"))
    assert rollup_rows(db) != counted_by_hand(db, NEW_YORK)
    rollup.rebuild(db, NEW_YORK)
    assert rollup_rows(db) == counted_by_hand(db, NEW_YORK)


def test_rebuilding_nothing_leaves_an_empty_rollup(db):
    assert rollup.rebuild(db, NEW_YORK) == rollup.Rebuilt(events=0, days=0)
    assert str(rollup.Rebuilt(events=1, days=3)) == "1 event in 3 day rows"


def test_a_day_sent_in_several_batches_adds_up_and_widens_its_times(db):
    noon = AGO.replace(hour=12, minute=0, second=0)
    for hour in (0, 3, -3, 1):  # noon, later, earlier, then neither
        at = (noon + timedelta(hours=hour)).isoformat()
        ingest_items(db, [event(occurred_at=at)], ZoneInfo("UTC"))
    ((events, first_at, last_at),) = rollup_rows(db).values()
    assert events == 4
    assert (first_at, last_at) == (noon - timedelta(hours=3), noon + timedelta(hours=3))
