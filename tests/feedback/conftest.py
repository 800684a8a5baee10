"""Fixtures for feedback: a running beta with a member, and tokens that read and log feedback."""

import pytest

from betas.models import Role
from cohorts.models import Membership, MembershipStatus
from tests.feedback.helpers import READ_WRITE


@pytest.fixture
def pm(make_user):
    return make_user(Role.PM)


@pytest.fixture
def beta(running_beta, pm):
    return running_beta(owner=pm, key="inbox-reports")


@pytest.fixture
def acme(db, beta, make_account, make_cohort):
    """Return an account that is an active member of the beta's early adopters."""
    account = make_account("acme", "Acme Ltd")
    cohort = make_cohort(beta)
    db.add(
        Membership(
            beta=beta,
            account=account,
            cohort=cohort,
            status=MembershipStatus.ACTIVE,
            reason="Asked for reports.",
        )
    )
    db.flush()
    return account


@pytest.fixture
def headers(bearer, pm):
    """Return Authorization headers of the beta's owner, who may read, log and codify."""
    return bearer(pm, READ_WRITE)
