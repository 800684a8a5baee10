"""Stored metric values brought up to date from the stale day equal values computed from nothing.

Eighty accounts in two cohorts join at random moments over the first days, some opt out
mid-way; events arrive before and after the joins. Once the values are stored, new events
(today's, and late ones a few days back) make the next read compute only the days from theirs;
each such read must equal a computation from the launch, for per-event and per-day rules,
at_least and at_most, 7- and 14-day windows and since-joined ones, and a metric first measured
by the new events or measured only by events older than any window read.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from betas.audit import Actor
from betas.models import Direction, MetricUnit
from cohorts import memberships
from cohorts.models import CohortKind
from usage import rules, value_store, values
from usage.events import ingest_items
from usage.models import MetricTotals, ValuesMark

NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()
LAUNCHED = NOW - timedelta(days=18, hours=5)
_batches = itertools.count(1)
KINDS = [("opened", "report"), ("switched", "old_report"), ("viewed", "chart")]
RULES = [
    # name, unit, direction, target, rule
    ("Weekly use", MetricUnit.PERCENT, Direction.AT_LEAST, 30, {
        "events": [{"action": "opened", "object": "report"}],
        "at_least": 3, "per": "event", "window_days": 7,
    }),
    ("Switched back", MetricUnit.PERCENT, Direction.AT_MOST, 20, {
        "events": [{"action": "switched", "object": "old_report"}],
        "at_least": 3, "per": "day", "window_days": None,
    }),
    ("Charting days", MetricUnit.COUNT, Direction.AT_LEAST, 5, {
        "events": [{"action": "viewed", "object": "chart"}],
        "at_least": 2, "per": "day", "window_days": 7,
    }),
    ("Ever reported", MetricUnit.COUNT, Direction.AT_MOST, 40, {
        "events": [{"action": "opened", "object": "report"}],
        "at_least": 4, "per": "event", "window_days": None,
    }),
    ("Fortnightly charting", MetricUnit.PERCENT, Direction.AT_LEAST, 10, {
        "events": [{"action": "viewed", "object": "chart"}],
        "at_least": 3, "per": "day", "window_days": 14,
    }),
    ("Exported weekly", MetricUnit.COUNT, Direction.AT_LEAST, 1, {
        "events": [{"action": "exported", "object": "report"}],
        "at_least": 1, "per": "event", "window_days": 7,
    }),
    ("Scheduled", MetricUnit.PERCENT, Direction.AT_LEAST, 10, {
        "events": [{"action": "scheduled", "object": "report"}],
        "at_least": 1, "per": "event", "window_days": None,
    }),
]  # fmt: skip


@pytest.fixture
def measured(db, ruled_beta, make_account, make_cohort, monkeypatch):
    """Return a beta of 18 days, members who joined and opted out mid-way; values stored."""
    rng = random.Random(20261202)
    beta = ruled_beta(LAUNCHED, RULES)
    cohorts = [
        make_cohort(beta, "early", CohortKind.EARLY_ADOPTERS),
        make_cohort(beta, "sample", CohortKind.RANDOM_SAMPLE),
    ]
    accounts = [make_account(f"inc-{n:02}").external_id for n in range(80)]
    sent = [
        _event(rng, account, LAUNCHED + timedelta(seconds=rng.randint(0, 18 * 86_400)))
        for account in accounts
        for _ in range(rng.randint(0, 25))
    ]
    sent = [e for e in sent if datetime.fromisoformat(e["occurred_at"]) <= NOW]
    ingest_items(db, sent[: len(sent) // 2], UTC)
    actor = Actor(beta.owner)
    joins = sorted(
        (LAUNCHED + timedelta(seconds=rng.randint(0, 10 * 86_400)), account)
        for account in accounts[:72]
    )
    for when, account in joins:
        monkeypatch.setattr(memberships, "utcnow", lambda when=when: when)
        memberships.enroll(db, actor, beta, rng.choice(cohorts), [account], "Asked.", TODAY)
    for when, account in rng.sample(joins, 12):
        left = min(when + timedelta(seconds=rng.randint(0, 5 * 86_400)), NOW)
        monkeypatch.setattr(memberships, "utcnow", lambda left=left: left)
        memberships.opt_out(db, actor, beta, account)
    ingest_items(db, sent[len(sent) // 2 :], UTC)
    # The one export, after every join and more than a week ago: a weekly metric measured
    # before any window a stale day reaches back to.
    export = _event(
        rng, accounts[0], LAUNCHED + timedelta(days=10, hours=12), ("exported", "report")
    )
    ingest_items(db, [export], UTC)
    values.metric_values(db, beta, TODAY, UTC)  # stored: the next read computes only stale days
    return SimpleNamespace(beta=beta, members=accounts[:72], cohorts=cohorts)


def _event(rng: random.Random, account: str, at: datetime, kind=None) -> dict:
    action, object_ = kind or rng.choice(KINDS)
    return {
        "id": f"{account}-{rng.getrandbits(48)}",
        "account": account,
        "action": action,
        "object": object_,
        "occurred_at": at.isoformat(),
    }


def _send(db, measured, days_back: int, scheduled: bool = False) -> int:
    """Send events of most members on the day `days_back` days ago (none later than now).

    Return the day's number.
    """
    rng = random.Random(next(_batches))  # new ids each batch, so none is a duplicate
    at = NOW - timedelta(days=days_back)
    day_begins = datetime(at.year, at.month, at.day, tzinfo=UTC)
    batch = []
    for account in measured.members:
        for _ in range(rng.randint(0, 4)):
            moment = day_begins + (at - day_begins) * rng.random()
            batch.append(_event(rng, account, moment))
    if scheduled:
        batch.append(_event(rng, measured.members[0], at, ("scheduled", "report")))
    ingest_items(db, batch, UTC)
    return at.date().toordinal()


@pytest.fixture
def reads(monkeypatch):
    """Record each read of the rollup: ("days", first day) or ("totals", first day, last day)."""
    done = []
    daily, totals = rules.daily_counts_of_each, rules.totals

    def reading_days(session, beta_id, kinds, first, last, memberships=None, firsts=None):
        done.append(("days", first))
        return daily(session, beta_id, kinds, first, last, memberships, firsts)

    def reading_totals(session, beta_id, kinds, per_day, froms, last, lasts=None):
        if kinds and min(froms) <= last:  # else it reads nothing
            done.append(("totals", min(froms), last))
        return totals(session, beta_id, kinds, per_day, froms, last, lasts)

    monkeypatch.setattr(rules, "daily_counts_of_each", reading_days)
    monkeypatch.setattr(rules, "totals", reading_totals)
    return done


def _from_nothing(db, beta, today=TODAY):
    value_store.forget_all(db)
    return values.metric_values(db, beta, today, UTC)


def _read(db, beta, today=TODAY):
    return values.metric_values(db, beta, today, UTC)


@pytest.mark.parametrize("days_back", [0, 1, 4, 9])
def test_an_update_from_the_stale_day_equals_a_computation_from_the_launch(
    db, measured, reads, days_back
):
    day = _send(db, measured, days_back)
    db.expire_all()
    assert db.get(ValuesMark, measured.beta.id).dirty_from == day
    updated = _read(db, measured.beta)
    launched = LAUNCHED.toordinal()
    if day == TODAY.toordinal():  # today alone: the stored totals, and today's rollup rows
        assert reads == [("totals", day, day)]
    else:  # the longest window (14 days) before the stale day; since-joined totals before it
        assert reads == [("days", max(day - 13, launched)), ("totals", launched, day - 1)]
    assert updated == _from_nothing(db, measured.beta)


def test_an_update_equals_a_computation_after_several_batches_on_several_days(db, measured):
    for days_back in (0, 6, 2, 0):
        _send(db, measured, days_back)
        assert _read(db, measured.beta) == _from_nothing(db, measured.beta)


def _scheduled(result: list[values.MetricValues]) -> values.MetricValues:
    return next(v for v in result if v.metric.name == "Scheduled")


def test_a_metric_measured_before_the_windows_read_stays_measured(db, measured):
    _send(db, measured, 0)
    # Asked for today alone: whether it is measured comes from the day's stored row.
    today = values.metric_values(db, measured.beta, TODAY, UTC, first=TODAY)
    exported = next(v for v in today if v.metric.name == "Exported weekly")
    assert exported.status == values.Status.NOT_MET  # measured: no export in the last 7 days
    assert exported.all_members.latest.accounts == 0
    value_store.forget_all(db)
    assert values.metric_values(db, measured.beta, TODAY, UTC, first=TODAY) == today


def test_a_metric_first_measured_by_new_events_is_measured_from_their_day(db, measured):
    assert _scheduled(_read(db, measured.beta)).status == values.Status.NOT_MEASURED
    _send(db, measured, 3, scheduled=True)
    updated = _read(db, measured.beta)
    assert updated == _from_nothing(db, measured.beta)
    assert _scheduled(updated).status != values.Status.NOT_MEASURED
    # Once measured, it stays so for days after stale ones: read from what was stored.
    _send(db, measured, 0)
    assert _read(db, measured.beta) == _from_nothing(db, measured.beta)


@pytest.mark.parametrize("days_ahead", [1, 3])
def test_a_new_day_is_computed_alone_and_equals_a_computation_from_the_launch(
    db, measured, reads, days_ahead
):
    later = TODAY + timedelta(days=days_ahead)
    updated = _read(db, measured.beta, later)
    if days_ahead == 1:
        # Alone: the since-joined totals go on from the stored ones; the windows (14 days the
        # longest) are counted again over their days.
        assert reads == [("totals", later.toordinal() - 13, later.toordinal())]
    assert updated == _from_nothing(db, measured.beta, later)


def test_a_changed_signature_computes_from_the_launch(db, measured, reads):
    memberships.opt_out(db, Actor(measured.beta.owner), measured.beta, measured.members[1])
    _read(db, measured.beta)
    assert reads == [("days", LAUNCHED.toordinal())]


@pytest.fixture
def stored_reads(monkeypatch):
    """Record each read of the stored membership totals: how many it found."""
    done = []
    read = value_store.read_totals

    def reading(session, beta_id, metric_ids):
        found = read(session, beta_id, metric_ids)
        done.append(sum(len(per_membership) for per_membership in found.values()))
        return found

    monkeypatch.setattr(value_store, "read_totals", reading)
    return done


def _reference(db, beta, today, monkeypatch):
    """Compute the values from the launch without reading or storing anything stored."""
    with monkeypatch.context() as patched:
        patched.setattr(value_store, "may_store", lambda session: False)
        return values.metric_values(db, beta, today, UTC)


def _totals_through(db, beta) -> int | None:
    db.flush()
    return db.scalar(select(ValuesMark.totals_through).where(ValuesMark.beta_id == beta.id))


def _with_stored_totals(db, beta, monkeypatch) -> None:
    """Compute through yesterday from nothing, then today: totals through yesterday stored."""
    value_store.forget_all(db)
    _read(db, beta, TODAY - timedelta(days=1))
    assert _read(db, beta) == _reference(db, beta, TODAY, monkeypatch)
    assert _totals_through(db, beta) == TODAY.toordinal() - 1


def test_updates_from_stored_totals_equal_a_computation_day_after_day(
    db, measured, stored_reads, monkeypatch
):
    beta = measured.beta
    value_store.forget_all(db)
    _read(db, beta, TODAY - timedelta(days=5))  # from the launch, storing the totals
    for days_back in (4, 3, 2, 1, 0):
        day = TODAY - timedelta(days=days_back)
        # A new day: the totals through the day before are stored (read from the stored ones
        # and the days after them, once some are stored).
        assert _read(db, beta, day) == _reference(db, beta, day, monkeypatch)
        assert _totals_through(db, beta) == day.toordinal() - 1
        for _batch in range(2):
            _send(db, measured, days_back)
            read_before = len(stored_reads)
            assert _read(db, beta, day) == _reference(db, beta, day, monkeypatch)
            assert len(stored_reads) == read_before + 1 and stored_reads[-1] > 0
            assert _totals_through(db, beta) == day.toordinal() - 1


def test_a_late_event_makes_the_update_store_the_totals_again(
    db, measured, stored_reads, monkeypatch
):
    beta = measured.beta
    _with_stored_totals(db, beta, monkeypatch)
    _send(db, measured, 3)  # on a day the totals run through: they no longer hold
    read_before = len(stored_reads)
    assert _read(db, beta) == _reference(db, beta, TODAY, monkeypatch)
    assert len(stored_reads) == read_before  # computed from the late day, not from them
    assert _totals_through(db, beta) == TODAY.toordinal() - 1
    assert db.scalar(select(func.count()).select_from(MetricTotals)) > 0
    _send(db, measured, 0)
    assert _read(db, beta) == _reference(db, beta, TODAY, monkeypatch)  # from the stored ones
    assert len(stored_reads) == read_before + 1


@pytest.mark.parametrize("change", ["opt_out", "join"])
def test_a_membership_change_stores_the_totals_again(
    db, measured, stored_reads, make_account, monkeypatch, change
):
    beta = measured.beta
    _with_stored_totals(db, beta, monkeypatch)
    actor = Actor(beta.owner)
    if change == "opt_out":
        memberships.opt_out(db, actor, beta, measured.members[2])
    else:
        newcomer = make_account("inc-newcomer").external_id
        memberships.enroll(db, actor, beta, measured.cohorts[0], [newcomer], "Asked.", TODAY)
        ingest_items(db, [_event(random.Random(7), newcomer, NOW, ("opened", "report"))], UTC)
    read_before = len(stored_reads)
    # A new signature: computed from the launch, and the totals stored again from it.
    assert _read(db, beta) == _reference(db, beta, TODAY, monkeypatch)
    assert len(stored_reads) == read_before
    assert _totals_through(db, beta) == TODAY.toordinal() - 1
    _send(db, measured, 0)
    assert _read(db, beta) == _reference(db, beta, TODAY, monkeypatch)
    assert len(stored_reads) == read_before + 1 and stored_reads[-1] > 0
