"""Metric values: members at each day's end, history kept, a constant number of statements."""

from __future__ import annotations

from datetime import UTC, datetime

from betas.audit import Actor
from cohorts import memberships
from usage import values

NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()


def series(beta, db) -> list[tuple]:
    (weekly,) = values.metric_values(db, beta, TODAY, UTC)
    return [(d.day, d.members, d.accounts, d.value) for d in weekly.all_members.days]


def test_opting_out_later_does_not_change_the_days_before(db, launched, monkeypatch):
    beta = launched(size=4, days=5)
    before = series(beta, db)
    assert before[-1][1:] == (4, 4, 100.0)
    monkeypatch.setattr(memberships, "utcnow", lambda: NOW)
    memberships.opt_out(db, Actor(beta.owner), beta, "acct-1")
    after = series(beta, db)
    assert after[:-1] == before[:-1]
    assert after[-1][1:] == (3, 3, 100.0)


def test_the_latest_status_compares_the_value_with_the_target(db, launched):
    beta = launched(size=2, days=3)
    (weekly,) = values.metric_values(db, beta, TODAY, UTC)
    assert weekly.status == values.Status.MET  # 100% against at least 40%
    assert weekly.cohorts[0].met is True
    assert weekly.cohorts[0].latest.value == 100.0


def test_no_matching_event_yet_is_not_measured(db, launched):
    beta = launched(size=2, days=3)
    beta.metrics[0].rule = {**beta.metrics[0].rule, "events": [{"action": "a", "object": "b"}]}
    (weekly,) = values.metric_values(db, beta, TODAY, UTC)
    assert weekly.status == values.Status.NOT_MEASURED
    assert weekly.cohorts[0].met is None
    assert weekly.all_members.latest.accounts == 0


def test_a_draft_has_no_days_and_a_metric_without_a_rule_no_values(db, make_beta):
    draft = make_beta()
    (weekly,) = values.metric_values(db, draft, TODAY, UTC)
    assert (weekly.status, weekly.all_members.days) == (values.Status.NOT_MEASURED, [])
    draft.metrics[0].rule = None
    assert values.metric_values(db, draft, TODAY, UTC) == []


def test_the_statements_do_not_grow_with_members_or_days(db, launched, count_queries):
    def statements(beta) -> int:
        db.expire_all()
        beta.metrics  # noqa: B018  (loaded as the pages have it)
        with count_queries() as counter:
            values.metric_values(db, beta, TODAY, UTC)
        return counter.n

    assert statements(launched(size=2, days=2)) == statements(launched(size=40, days=20))
