"""Fixtures for usage events: a token that may send them, sending a batch, a measured beta."""

from datetime import UTC, datetime, timedelta

import pytest

from betas.audit import Actor
from betas.models import BetaState
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
