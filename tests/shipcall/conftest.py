"""Fixtures for the review and the decision: a measured beta, and feedback said in it."""

from datetime import UTC, datetime, timedelta

import pytest

from betas.audit import Actor
from betas.config import DEFAULT_FEEDBACK_TYPES
from betas.models import BetaState
from cohorts import memberships
from cohorts.models import CohortKind
from feedback import log
from usage.events import ingest_items


@pytest.fixture
def measured(db, make_beta, make_cohort, make_account, monkeypatch):
    """Return a beta launched `days` ago: `size` early adopters and `sampled` sampled accounts.

    Each of the first `using` early adopters opened a report every day, which meets Weekly use
    (40% of members).
    """

    def make(size=3, days=3, using=None, sampled=0, **values):
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=days)
        beta = make_beta(state=BetaState.RUNNING, launched_at=start, **values)
        early = make_cohort(beta)
        ids = [make_account().external_id for _ in range(size)]
        others = [make_account().external_id for _ in range(sampled)]
        with monkeypatch.context() as patched:
            patched.setattr(memberships, "utcnow", lambda: start)
            memberships.enroll(db, Actor(beta.owner), beta, early, ids, "Asked.", start.date())
            if others:
                cohort = make_cohort(beta, "sample", CohortKind.RANDOM_SAMPLE)
                memberships.enroll(
                    db, Actor(beta.owner), beta, cohort, others, "Drawn.", start.date()
                )
        batch = [
            {
                "id": f"{beta.key}-{account}-{d}",
                "account": account,
                "action": "opened",
                "object": "report",
                "occurred_at": (start + timedelta(days=d, minutes=1)).isoformat(),
            }
            for account in ids[: size if using is None else using]
            for d in range(days)
        ]
        for at in range(0, len(batch), 1000):
            ingest_items(db, batch[at : at + 1000], UTC)
        return beta

    return make


@pytest.fixture
def say(db):
    """Log what an account said in a beta: a blocker unless another type is given, codified."""

    def make(beta, account, original="It breaks our export.", type="blocker", codified=True):
        codes = {"summary": "Export breaks", "reason": "export"} if codified else {}
        return log.log(
            db,
            Actor(beta.owner),
            beta,
            account=account,
            original=original,
            types=DEFAULT_FEEDBACK_TYPES,
            type=type if codified else None,
            **codes,
        )

    return make
