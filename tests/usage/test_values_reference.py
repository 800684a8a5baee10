"""Metric values equal a plain Python computation over the raw events, for every day and cohort.

Hundreds of accounts in three cohorts join at random moments, some after events of theirs
arrived and some before; some opt out mid-way, some move between cohorts; events come late, in
several batches, and some twice. The reference reads only the raw events and the memberships.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from betas.audit import Actor
from betas.models import Direction, MetricUnit
from cohorts import memberships
from cohorts.models import CohortKind, Membership
from usage import values
from usage.events import ingest_items
from usage.rollup import day_start

NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()
LAUNCHED = NOW - timedelta(days=20, hours=3)
KINDS = [
    ("opened", "report", ""),
    ("opened", "report", "inbox"),
    ("viewed", "chart", "settings"),
    ("switched", "old_report", ""),
    ("exported", "report", "inbox"),
]
RULES = [
    # name, unit, direction, target, rule
    ("Weekly use", MetricUnit.PERCENT, Direction.AT_LEAST, 30, {
        "events": [{"action": "opened", "object": "report"}],
        "at_least": 2, "per": "event", "window_days": 7,
    }),
    ("Switched back", MetricUnit.PERCENT, Direction.AT_MOST, 20, {
        "events": [{"action": "switched", "object": "old_report"}],
        "at_least": 3, "per": "day", "window_days": None,
    }),
    ("Inbox days", MetricUnit.COUNT, Direction.AT_LEAST, 10, {
        "events": [
            {"action": "opened", "object": "report", "place": "inbox"},
            {"action": "exported", "object": "report", "place": "inbox"},
        ],
        "at_least": 2, "per": "day", "window_days": 7,
    }),
    ("Ever charted", MetricUnit.COUNT, Direction.AT_MOST, 50, {
        "events": [{"action": "viewed", "object": "chart"}],
        "at_least": 1, "per": "event", "window_days": None,
    }),
    ("Never sent", MetricUnit.PERCENT, Direction.AT_LEAST, 10, {
        "events": [{"action": "deleted", "object": "report"}],
        "at_least": 1, "per": "event", "window_days": 14,
    }),
]  # fmt: skip


def _matches(rule, kind) -> bool:
    action, object_, place = kind
    return any(
        p["action"] == action and p["object"] == object_ and p.get("place", place) == place
        for p in rule["events"]
    )


def reference(metric, members, events, first, last):
    """Count by hand: {cohort slug or None: [(day, members, accounts, value)]}."""
    rule = metric.rule
    out = {}
    for cohort in sorted({m.cohort.slug for m in members}) + [None]:
        days = []
        for day in range(first, last + 1):
            end = day_start(day + 1, UTC)
            active = [
                m
                for m in members
                if (cohort is None or m.cohort.slug == cohort)
                and m.joined_at < end
                and (m.left_at is None or m.left_at >= end)
            ]
            meeting = 0
            for m in active:
                counted = [
                    e
                    for e in events[m.account_id]
                    if e["at"] >= m.joined_at
                    and _matches(rule, e["kind"])
                    and e["day"] <= day
                    and (rule["window_days"] is None or e["day"] > day - rule["window_days"])
                ]
                n = len({e["day"] for e in counted}) if rule["per"] == "day" else len(counted)
                meeting += n >= rule["at_least"]
            if metric.unit == MetricUnit.COUNT:
                value = float(meeting)
            else:
                value = round(100 * meeting / len(active), 2) if active else None
            days.append((datetime.fromordinal(day).date(), len(active), meeting, value))
        out[cohort] = days
    return out


@pytest.fixture
def scenario(db, ruled_beta, make_account, make_cohort, monkeypatch):
    rng = random.Random(20261201)
    beta = ruled_beta(LAUNCHED, RULES)
    cohorts = [
        make_cohort(beta, "early", CohortKind.EARLY_ADOPTERS),
        make_cohort(beta, "sample", CohortKind.RANDOM_SAMPLE),
        make_cohort(beta, "wave-2", CohortKind.MANUAL),
    ]
    accounts = [make_account(f"acct-{n:03}") for n in range(300)]
    # Events: most around the launch, some before and after each join, a few kinds each.
    sent = []
    for account in accounts:
        for n in range(rng.randint(0, 40)):
            at = LAUNCHED + timedelta(seconds=rng.randint(-86_400, 20 * 86_400))
            if at > NOW:
                continue
            action, object_, place = rng.choice(KINDS)
            sent.append(
                {
                    "id": f"{account.external_id}-{n}",
                    "account": account.external_id,
                    "action": action.upper() if rng.random() < 0.1 else action,
                    "object": object_,
                    **({"place": place} if place else {}),
                    "occurred_at": at.isoformat(),
                }
            )
    rng.shuffle(sent)
    thirds = len(sent) // 3
    actor = Actor(beta.owner)

    def ingest(batch):
        for at in range(0, len(batch), 1000):
            ingest_items(db, batch[at : at + 1000], UTC)

    ingest(sent[:thirds])  # before anyone joins
    joins = sorted(
        (LAUNCHED + timedelta(seconds=rng.randint(0, 15 * 86_400)), account)
        for account in accounts[:270]
    )
    for when, account in joins:
        monkeypatch.setattr(memberships, "utcnow", lambda when=when: when)
        memberships.enroll(
            db, actor, beta, rng.choice(cohorts), [account.external_id], "Asked.", TODAY
        )
    ingest(sent[thirds : 2 * thirds])  # late, after the joins
    leaving = rng.sample(joins, 40)
    for when, account in leaving:  # opt-outs mid-way
        left = min(when + timedelta(seconds=rng.randint(0, 6 * 86_400)), NOW)
        monkeypatch.setattr(memberships, "utcnow", lambda left=left: left)
        memberships.opt_out(db, actor, beta, account.external_id)
    staying = [join for join in joins if join not in leaving]
    for _when, account in rng.sample(staying, 20):  # moves: they count in their new cohort
        memberships.place_member(
            db, actor, beta, account.external_id, rng.choice(cohorts), "Moved.", TODAY
        )
    ingest(sent[2 * thirds :] + rng.sample(sent, 200))  # the rest, and some sent again
    db.expire_all()
    members = list(db.scalars(select(Membership).where(Membership.beta_id == beta.id)))
    by_account: dict[int, list] = {a.id: [] for a in accounts}
    ids = {a.external_id: a.id for a in accounts}
    for e in sent:
        at = datetime.fromisoformat(e["occurred_at"])
        kind = (e["action"].lower(), e["object"], e.get("place", ""))
        by_account[ids[e["account"]]].append({"at": at, "day": at.toordinal(), "kind": kind})
    return beta, [m for m in members if m.joined_at is not None], by_account


def test_the_values_equal_the_reference_for_every_metric_cohort_and_day(db, scenario):
    beta, members, events = scenario
    computed = values.metric_values(db, beta, TODAY, UTC)
    first, last = LAUNCHED.toordinal(), TODAY.toordinal()
    assert [v.metric.name for v in computed] == [r[0] for r in RULES]
    seen_met = set()
    for result in computed:
        expected = reference(result.metric, members, events, first, last)
        got = {
            **{c.cohort: c for c in result.cohorts},
            None: result.all_members,
        }
        for cohort, days in expected.items():
            series = [(d.day, d.members, d.accounts, d.value) for d in got[cohort].days]
            assert series == days, (result.metric.name, cohort)
        latest = expected[None][-1][3]
        if any(day[2] for day in expected[None]) or result.metric.name != "Never sent":
            target = float(result.metric.target)
            at_least = result.metric.direction == Direction.AT_LEAST
            met = latest >= target if at_least else latest <= target
            assert result.status == (values.Status.MET if met else values.Status.NOT_MET)
            seen_met.add(met)
        else:
            assert result.status == values.Status.NOT_MEASURED
            assert all(c.met is None for c in result.cohorts)
    assert seen_met == {True, False}, "the scenario has metrics met and not met"
    assert any(d.members for d in computed[0].all_members.days)
    assert computed[0].all_members.days[0].day == LAUNCHED.date()
