"""Only what an account did from the moment it joined counts: its join day is split there."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from sqlalchemy import select

from betas.audit import Actor
from betas.models import Risk
from cohorts import memberships
from cohorts.models import Membership
from tests.usage.sending import AGO, event
from usage import rollup, rules
from usage.events import ingest_items
from usage.models import UsageDay

JOINED = AGO.replace(hour=12, minute=0, second=0)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def beta(running_beta):
    return running_beta()


@pytest.fixture
def enroll(db, beta, make_account, make_cohort, monkeypatch):
    """Enroll acme in the beta at `when`; return its membership."""
    cohort = make_cohort(beta)
    make_account("acme")

    def at(when, account="acme"):
        monkeypatch.setattr(memberships, "utcnow", lambda: when)
        memberships.enroll(db, Actor(beta.owner), beta, cohort, [account], "Asked.", JOINED.date())
        return db.scalar(select(Membership).where(Membership.beta_id == beta.id))

    return at


def send(db, *times):
    ingest_items(db, [event(occurred_at=t.isoformat()) for t in times], UTC)


def counted(db, beta) -> dict[int, dict[int, int]]:
    """Return each membership's matching events per day, as the metric values read them."""
    kinds = rules.matching_kinds(db, [beta.metrics[0].rule])[0]
    day = JOINED.toordinal()
    return dict(rules.daily_counts(db, beta.id, kinds, day - 1, day + 1))


def spans(db) -> list[tuple]:
    return sorted(tuple(row) for row in db.execute(select(UsageDay.since, UsageDay.events)))


def test_events_sent_before_the_enrollment_count_only_from_the_join(db, beta, enroll):
    send(db, JOINED - MINUTE, JOINED + MINUTE, JOINED + 2 * MINUTE)
    membership = enroll(JOINED)
    assert membership.joined_at == JOINED
    assert counted(db, beta) == {membership.id: {JOINED.toordinal(): 2}}
    start = rollup.day_start(JOINED.toordinal(), UTC)
    assert spans(db) == [(start, 1), (JOINED, 2)]


def test_events_sent_after_the_enrollment_go_to_their_span(db, beta, enroll):
    membership = enroll(JOINED)
    send(db, JOINED - MINUTE, JOINED + MINUTE)
    send(db, JOINED, JOINED - 2 * MINUTE)
    assert counted(db, beta) == {membership.id: {JOINED.toordinal(): 2}}
    start = rollup.day_start(JOINED.toordinal(), UTC)
    assert spans(db) == [(start, 2), (JOINED, 2)]


def test_the_day_after_the_join_counts_whole(db, beta, enroll):
    membership = enroll(JOINED)
    send(db, JOINED + timedelta(days=1) - JOINED.hour * timedelta(hours=1))
    assert counted(db, beta) == {membership.id: {JOINED.toordinal() + 1: 1}}


def test_a_rebuild_splits_the_join_day_again(db, beta, enroll):
    send(db, JOINED - MINUTE)
    membership = enroll(JOINED)
    send(db, JOINED + MINUTE)
    before = spans(db)
    rollup.rebuild(db, UTC)
    assert spans(db) == before
    assert counted(db, beta) == {membership.id: {JOINED.toordinal(): 1}}


def test_two_betas_joined_the_same_day_each_count_from_their_own_join(
    db, beta, enroll, running_beta, make_cohort, monkeypatch
):
    send(db, JOINED - MINUTE, JOINED + MINUTE, JOINED + 3 * MINUTE)
    first = enroll(JOINED)
    other = running_beta()
    monkeypatch.setattr(memberships, "utcnow", lambda: JOINED + 2 * MINUTE)
    memberships.enroll(
        db, Actor(other.owner), other, make_cohort(other), ["acme"], "Asked.", JOINED.date()
    )
    second = db.scalar(select(Membership).where(Membership.beta_id == other.id))
    assert counted(db, beta) == {first.id: {JOINED.toordinal(): 2}}
    assert counted(db, other) == {second.id: {JOINED.toordinal(): 1}}


def test_a_high_risk_membership_joins_when_it_accepts(
    db, running_beta, make_account, make_cohort, monkeypatch
):
    beta = running_beta(risk=Risk.HIGH)
    make_account("acme")
    monkeypatch.setattr(memberships, "utcnow", lambda: JOINED - timedelta(hours=2))
    memberships.enroll(
        db, Actor(beta.owner), beta, make_cohort(beta), ["acme"], "Asked.", JOINED.date()
    )
    membership = db.scalar(select(Membership).where(Membership.beta_id == beta.id))
    assert membership.joined_at is None
    send(db, JOINED - MINUTE, JOINED + MINUTE)
    monkeypatch.setattr(memberships, "utcnow", lambda: JOINED)
    memberships.record_response(
        db, Actor(beta.owner), beta, "acme", accepted=True, today=JOINED.date()
    )
    assert membership.joined_at == JOINED
    assert counted(db, beta) == {membership.id: {JOINED.toordinal(): 1}}


def test_a_rejoin_keeps_the_first_join_time(db, beta, enroll, monkeypatch):
    membership = enroll(JOINED)
    monkeypatch.setattr(memberships, "utcnow", lambda: JOINED + timedelta(hours=1))
    memberships.opt_out(db, Actor(beta.owner), beta, "acme")
    monkeypatch.setattr(memberships, "utcnow", lambda: JOINED + timedelta(hours=2))
    memberships.place_member(
        db,
        Actor(beta.owner),
        beta,
        "acme",
        membership.cohort,
        "Back.",
        JOINED.date(),
        override_opt_out=True,
    )
    assert (membership.joined_at, membership.left_at) == (JOINED, None)
