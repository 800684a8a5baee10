"""Factories for accounts, cohorts and running betas."""

import pytest

from betas.models import BetaState, Risk
from cohorts.models import Account, Cohort, CohortKind


@pytest.fixture
def make_account(db):
    counter = iter(range(1, 100_000))

    def make(external_id: str | None = None, name: str | None = None, **attributes) -> Account:
        number = next(counter)
        account = Account(
            external_id=external_id or f"acct-{number}",
            name=name or f"Account {number}",
            attributes=attributes,
        )
        db.add(account)
        db.flush()
        return account

    return make


@pytest.fixture
def running_beta(make_beta):
    """Return a running low-risk beta (pass risk=Risk.HIGH for invitations)."""

    def make(risk: Risk = Risk.LOW, **values):
        return make_beta(state=BetaState.RUNNING, risk=risk, **values)

    return make


@pytest.fixture
def make_cohort(db):
    def make(beta, slug: str = "early", kind: CohortKind = CohortKind.EARLY_ADOPTERS) -> Cohort:
        cohort = Cohort(beta=beta, slug=slug, name=slug.replace("-", " ").title(), kind=kind)
        db.add(cohort)
        db.flush()
        return cohort

    return make
