"""Stored metric values: read back while they hold, never served stale after a change.

Each test computes the values (which stores them), changes what they depend on, and proves the
next read equals the values computed from nothing (every mark forgotten), and differs from
before where the change shows.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select

from betas.audit import Actor
from betas.metrics import update_metric
from cohorts import memberships
from cohorts.models import CohortKind
from tests.usage.sending import event
from usage import rollup, value_store, values
from usage.events import ingest_items
from usage.models import MetricDayValue, UsageDay, ValuesMark

NEW_YORK = ZoneInfo("America/New_York")


def read(db, beta, today, zone=UTC) -> list[values.MetricValues]:
    return values.metric_values(db, beta, today, zone)


def from_nothing(db, beta, today, zone=UTC) -> list[values.MetricValues]:
    value_store.forget_all(db)
    return read(db, beta, today, zone)


def accounts(result: list[values.MetricValues]) -> list[list[int]]:
    return [[d.accounts for d in m.all_members.days] for m in result]


def mark(db, beta) -> ValuesMark:
    db.expire_all()
    return db.get(ValuesMark, beta.id)


def test_values_once_computed_are_read_back_without_the_rollup(db, joined):
    before = read(db, joined.beta, joined.today)
    assert mark(db, joined.beta).through == joined.today.toordinal()
    db.execute(delete(UsageDay))  # behind the marks' back: only a rebuild may do this
    assert read(db, joined.beta, joined.today) == before


def test_a_late_event_marks_its_day_and_counts(db, joined):
    before = read(db, joined.beta, joined.today)
    late = joined.start + timedelta(days=1, hours=2)
    ingest_items(db, [event(account="globex", occurred_at=late.isoformat())], UTC)
    assert mark(db, joined.beta).dirty_from == late.date().toordinal()
    after = read(db, joined.beta, joined.today)
    assert after != before
    weekly = accounts(after)[0]
    assert weekly[-1] == accounts(before)[0][-1] + 1  # globex counts now, through today
    assert mark(db, joined.beta).dirty_from is None
    assert after == from_nothing(db, joined.beta, joined.today)


def test_an_event_of_an_account_in_no_beta_marks_nothing(db, joined, make_account):
    read(db, joined.beta, joined.today)
    make_account("stranger")
    ingest_items(db, [event(account="stranger")], UTC)
    assert mark(db, joined.beta).dirty_from is None


def test_an_opt_out_counts_from_its_day(db, joined):
    before = read(db, joined.beta, joined.today)
    memberships.opt_out(db, Actor(joined.beta.owner), joined.beta, "acme", "Done.")
    after = read(db, joined.beta, joined.today)
    assert after[0].all_members.latest.members == before[0].all_members.latest.members - 1
    assert after == from_nothing(db, joined.beta, joined.today)


def test_a_move_to_another_cohort_counts_there(db, joined, make_cohort):
    read(db, joined.beta, joined.today)
    other = make_cohort(joined.beta, "wave-2", CohortKind.MANUAL)
    before = read(db, joined.beta, joined.today)
    memberships.place_member(
        db, Actor(joined.beta.owner), joined.beta, "acme", other, "Moved.", joined.today
    )
    after = read(db, joined.beta, joined.today)
    moved = next(s for s in after[0].cohorts if s.cohort == other.slug)
    assert moved.latest.members == 1
    assert after != before
    assert after == from_nothing(db, joined.beta, joined.today)


def test_a_changed_rule_counts_again_from_the_launch(db, joined):
    before = read(db, joined.beta, joined.today)
    weekly = joined.beta.metrics[0]
    rule = {**weekly.rule, "at_least": 3, "window_days": None}
    update_metric(db, Actor(joined.beta.owner), joined.beta, weekly.id, rule=rule)
    after = read(db, joined.beta, joined.today)
    assert accounts(after)[0] != accounts(before)[0]
    assert after == from_nothing(db, joined.beta, joined.today)


def test_a_changed_target_needs_nothing_computed_again(db, joined):
    before = read(db, joined.beta, joined.today)
    weekly = joined.beta.metrics[0]
    update_metric(db, Actor(joined.beta.owner), joined.beta, weekly.id, target=100)
    after = read(db, joined.beta, joined.today)
    assert after[0].status == values.Status.NOT_MET
    assert accounts(after) == accounts(before)


def test_a_new_day_is_computed_when_it_begins(db, joined):
    yesterday = joined.today - timedelta(days=1)
    assert read(db, joined.beta, yesterday)[0].all_members.latest.day == yesterday
    after = read(db, joined.beta, joined.today)
    assert after[0].all_members.latest.day == joined.today
    assert after == from_nothing(db, joined.beta, joined.today)


def test_a_rebuild_forgets_every_stored_value(db, joined):
    read(db, joined.beta, joined.today)
    rollup.rebuild(db, UTC)
    assert db.scalar(select(func.count()).select_from(ValuesMark)) == 0
    assert read(db, joined.beta, joined.today) == from_nothing(db, joined.beta, joined.today)


def test_a_rebuild_in_another_zone_gives_that_zones_days(db, joined):
    read(db, joined.beta, joined.today)
    rollup.rebuild(db, NEW_YORK)
    today = joined.today  # the same date: New York's days are what changes
    in_new_york = read(db, joined.beta, today, NEW_YORK)
    assert in_new_york == from_nothing(db, joined.beta, today, NEW_YORK)


def test_the_zone_alone_changes_the_signature(db, joined):
    read(db, joined.beta, joined.today)
    in_new_york = read(db, joined.beta, joined.today, NEW_YORK)
    assert in_new_york == from_nothing(db, joined.beta, joined.today, NEW_YORK)


def test_a_read_session_on_sqlite_computes_without_storing(db, joined):
    db.info["write"] = False
    try:
        result = read(db, joined.beta, joined.today)
    finally:
        db.info["write"] = True
    stored = db.scalar(select(func.count()).select_from(MetricDayValue))
    postgres = db.get_bind().dialect.name == "postgresql"
    assert (stored > 0) is postgres
    assert result == from_nothing(db, joined.beta, joined.today)


def test_the_pages_store_what_they_computed(client, db, joined, login):
    login(joined.beta.owner)
    assert client.get(f"/betas/{joined.beta.key}/metrics").status_code == 200
    assert mark(db, joined.beta).through == joined.today.toordinal()


def test_the_values_api_counts_an_event_sent_after_it_stored_them(client, joined, send, bearer):
    headers = bearer(scopes=["betas:read"])
    path = f"/api/v1/betas/{joined.beta.key}/metrics/values"

    def weekly_accounts() -> int:
        return client.get(path, headers=headers).get_json()["metrics"][0]["all_members"]["latest"][
            "accounts"
        ]

    before = weekly_accounts()
    late = joined.start + timedelta(days=1, hours=2)
    assert send(event(account="globex", occurred_at=late.isoformat())).status_code == 200
    assert weekly_accounts() == before + 1
