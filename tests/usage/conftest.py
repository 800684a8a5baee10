"""Fixtures for usage events: a token that may send them, sending a batch, measured betas."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from betas.audit import Actor
from betas.models import BetaState, MetricStage, MetricUnit, SuccessMetric
from cohorts import memberships
from tests.usage.sending import EVENTS, WRITE, event
from usage.events import ingest_items


@pytest.fixture
def headers(bearer):
    """Return Authorization headers of a token with only the events:write scope."""
    return bearer(scopes=WRITE)


@pytest.fixture
def send(client, headers):
    """POST a batch of events with the events token; return the response."""

    def post(*events, **kwargs):
        return client.post(EVENTS, json={"events": list(events)}, headers=headers, **kwargs)

    return post


@pytest.fixture
def launched(db, make_beta, make_cohort, make_account, monkeypatch):
    """Return a beta launched `days` ago with `size` members who joined then and opened reports."""

    def make(size: int, days: int):
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=days)
        beta = make_beta(state=BetaState.RUNNING, launched_at=start)
        cohort = make_cohort(beta)
        ids = [make_account().external_id for _ in range(size)]
        with monkeypatch.context() as patched:
            patched.setattr(memberships, "utcnow", lambda: start)
            memberships.enroll(db, Actor(beta.owner), beta, cohort, ids, "Asked.", start.date())
        batch = [
            event(account=account, occurred_at=(start + timedelta(days=d, minutes=1)).isoformat())
            for account in ids
            for d in range(days)
        ]
        for at in range(0, len(batch), 1000):
            ingest_items(db, batch[at : at + 1000], UTC)
        return beta

    return make


@pytest.fixture
def joined(db, running_beta, make_cohort, make_account, monkeypatch):
    """Return a beta whose members joined 5 days ago: one used it, one did not, one opted out.

    acme opened a report an hour before joining (which must not count) and on 3 days after;
    globex sent nothing; initech opened a report after joining, then opted out. The beta has
    two metrics: Weekly use (opened a report in the last 7 days) and Scheduling (scheduled a
    report since joining), which no event matches.
    """
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=5)
    beta = running_beta(launched_at=start - timedelta(days=1))
    beta.metrics.append(
        SuccessMetric(
            name="Scheduling",
            stage=MetricStage.ADOPTION,
            target=10,
            unit=MetricUnit.PERCENT,
            rule={
                "events": [{"action": "scheduled", "object": "report"}],
                "at_least": 1,
                "per": "event",
                "window_days": None,
            },
        )
    )
    cohort = make_cohort(beta)
    for name in ("acme", "globex", "initech"):
        make_account(name)
    ingest_items(
        db, [event(account="acme", occurred_at=(start - timedelta(hours=1)).isoformat())], UTC
    )
    with monkeypatch.context() as patched:
        patched.setattr(memberships, "utcnow", lambda: start)
        memberships.enroll(
            db,
            Actor(beta.owner),
            beta,
            cohort,
            ["acme", "globex", "initech"],
            "Asked.",
            start.date(),
        )
    after = [start + timedelta(days=d, minutes=1) for d in range(3)]
    ingest_items(
        db,
        [event(account="acme", occurred_at=at.isoformat()) for at in after]
        + [event(account="initech", occurred_at=after[0].isoformat())],
        UTC,
    )
    memberships.opt_out(db, Actor(beta.owner), beta, "initech", "Too busy.")
    return SimpleNamespace(beta=beta, cohort=cohort, start=start, last=after[-1], today=now.date())


@pytest.fixture
def ruled_beta(make_beta):
    """Return a running beta launched at a moment, whose metrics are these rules only.

    Each metric is (name, unit, direction, target, rule), in the order given.
    """

    def make(launched_at: datetime, metrics: list[tuple]):
        beta = make_beta(state="running", framed=True, launched_at=launched_at)
        beta.metrics.clear()
        for name, unit, direction, target, rule in metrics:
            beta.metrics.append(
                SuccessMetric(
                    name=name,
                    stage=MetricStage.ADOPTION,
                    unit=unit,
                    direction=direction,
                    target=target,
                    rule=rule,
                )
            )
        return beta

    return make
