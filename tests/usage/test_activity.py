"""What an account has and hasn't done: its usage since joining, its metrics, who uses it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from betas.errors import Invalid, NotFound
from cohorts import roster
from usage import activity


def of(db, joined, account: str) -> activity.Activity:
    return activity.member_activity(db, joined.beta, account, joined.today)


def test_the_activity_counts_only_the_events_since_joining(db, joined):
    acme = of(db, joined, "acme")
    assert acme.membership.joined_at == joined.start
    assert acme.last_seen_at == joined.last
    (opened,) = acme.events
    assert (opened.action, opened.object, opened.place) == ("opened", "report", "")
    assert (opened.count, opened.days, opened.last_at) == (3, 3, joined.last)  # not 4
    assert acme.event_count == 3


def test_each_metric_says_whether_the_account_counts_today(db, joined):
    checks = {c.metric.name: c.counts for c in of(db, joined, "acme").metrics}
    assert checks == {"Weekly use": True, "Scheduling": False}
    assert of(db, joined, "acme").summary == (
        "did: opened report on 3 days; did not: scheduled a report"
    )


def test_a_window_that_has_passed_no_longer_counts(db, joined):
    later = joined.today + timedelta(days=8)
    acme = activity.member_activity(db, joined.beta, "acme", later)
    assert [c.counts for c in acme.metrics] == [False, False]
    assert acme.summary == "did not: opened a report, scheduled a report"


def test_a_member_who_sent_nothing_has_no_usage(db, joined):
    globex = of(db, joined, "globex")
    assert (globex.last_seen_at, globex.events, globex.event_count) == (None, [], 0)
    assert [c.counts for c in globex.metrics] == [False, False]


def test_a_member_who_opted_out_counts_for_no_metric(db, joined):
    initech = of(db, joined, "initech")
    assert initech.event_count == 1
    assert [c.counts for c in initech.metrics] == [False, False]


def test_an_account_not_in_the_beta_is_not_found(db, joined, make_account):
    make_account("umbrella")
    with pytest.raises(NotFound):
        of(db, joined, "umbrella")


def test_every_members_activity_takes_the_same_statements_whatever_their_number(
    db, joined, count_queries
):
    members = roster.members(db, joined.beta)
    with count_queries() as three:
        activity.activities(db, joined.beta, members, joined.today)
    with count_queries() as one:
        activity.activities(db, joined.beta, members[:1], joined.today)
    # The usage by kind, the kinds, and Weekly use's days (no kind matches Scheduling's rule).
    assert three.n == one.n == 3


def test_the_account_activity_lists_every_beta_it_joined(db, joined):
    (only,) = activity.account_activity(db, "acme", joined.today)
    assert only.membership.beta_id == joined.beta.id and only.event_count == 3


def test_active_members_meet_the_metric_within_the_days(db, joined):
    weekly, scheduling = joined.beta.metrics
    found = activity.active_members(db, joined.beta, metric=weekly, days=7, today=joined.today)
    assert [a.membership.account.external_id for a in found] == ["acme"]
    assert found[0].event_count == 3 and found[0].last_seen_at == joined.last
    assert (
        activity.active_members(db, joined.beta, metric=scheduling, days=7, today=joined.today)
        == []
    )


def test_active_members_without_a_metric_did_anything_in_the_days(db, joined):
    found = activity.active_members(db, joined.beta, days=30, today=joined.today)
    assert [a.membership.account.external_id for a in found] == ["acme"]  # not initech: left
    # acme's last event was 3 days ago: the last 2 days hold nothing.
    assert activity.active_members(db, joined.beta, days=2, today=joined.today) == []


def test_active_members_need_a_day_and_a_rule(db, joined):
    with pytest.raises(Invalid):
        activity.active_members(db, joined.beta, days=0, today=joined.today)
    joined.beta.metrics[1].rule = None
    with pytest.raises(NotFound):
        activity.active_members(
            db, joined.beta, metric=joined.beta.metrics[1], days=7, today=joined.today
        )


def test_active_members_count_a_rule_met_on_any_of_the_days(db, joined):
    weekly = joined.beta.metrics[0]
    # acme's last report was 3 days ago: it meets Weekly use until 3 days from now.
    later = joined.today + timedelta(days=8)
    found = activity.active_members(db, joined.beta, metric=weekly, days=7, today=later)
    assert [a.membership.account.external_id for a in found] == ["acme"]
    assert not activity.active_members(db, joined.beta, metric=weekly, days=3, today=later)
