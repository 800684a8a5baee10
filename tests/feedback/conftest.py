"""Fixtures for feedback: a running beta, tokens, members with their usage, the fake Sheets."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from betas.audit import Actor
from betas.models import Role
from cohorts import memberships
from cohorts.models import Account, Cohort, CohortKind, Membership, MembershipStatus
from feedback import sync
from feedback.models import Ask
from feedback.sheet_links import check_sheet, link_sheet
from tests.feedback.helpers import READ_WRITE, SPREADSHEET, opened
from usage.events import ingest_items


@pytest.fixture
def pm(make_user):
    return make_user(Role.PM)


@pytest.fixture
def beta(running_beta, pm):
    return running_beta(owner=pm, key="inbox-reports")


@pytest.fixture
def make_member(db, beta, make_account, make_cohort):
    """Return a factory of accounts that are active members of a cohort of the beta."""

    def make(external_id: str, name: str, slug: str = "early", kind=CohortKind.EARLY_ADOPTERS):
        account = make_account(external_id, name)
        cohort = db.scalar(select(Cohort).where(Cohort.beta == beta, Cohort.slug == slug))
        db.add(
            Membership(
                beta=beta,
                account=account,
                cohort=cohort or make_cohort(beta, slug, kind),
                status=MembershipStatus.ACTIVE,
                reason="Asked for reports.",
            )
        )
        db.flush()
        return account

    return make


@pytest.fixture
def acme(make_member):
    """Return an account that is an active member of the beta's early adopters."""
    return make_member("acme", "Acme Ltd")


@pytest.fixture
def headers(bearer, pm):
    """Return Authorization headers of the beta's owner, who may read, log and codify."""
    return bearer(pm, READ_WRITE)


@pytest.fixture
def used(db, running_beta, pm, make_cohort, make_account, monkeypatch):
    """Return a beta whose four members joined 5 days ago, and what each did since.

    acme opened a report 2 days ago (it uses it); globex sent nothing; initech opened a report,
    then opted out; hooli opened a report yesterday and was asked for feedback (by another beta)
    3 days ago. The beta's one metric is Weekly use: opened a report in the last 7 days.
    """
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=5)
    beta = running_beta(owner=pm, key="inbox-reports", launched_at=start - timedelta(days=1))
    other = running_beta(key="old-exports", name="Old exports")
    cohort = make_cohort(beta)
    names = ("acme", "globex", "initech", "hooli")
    for name in names:
        make_account(name, f"{name.title()} Ltd")
    with monkeypatch.context() as patched:
        patched.setattr(memberships, "utcnow", lambda: start)
        memberships.enroll(
            db, Actor(pm), beta, cohort, list(names), "Asked for reports.", start.date()
        )
        memberships.enroll(
            db, Actor(other.owner), other, make_cohort(other), ["hooli"], "Asked.", start.date()
        )
    ingest_items(
        db,
        [
            opened("acme", now - timedelta(days=2)),
            opened("initech", now - timedelta(days=4)),
            opened("hooli", now - timedelta(days=1)),
        ],
        UTC,
    )
    memberships.opt_out(db, Actor(pm), beta, "initech", "Too busy.")
    hooli = db.scalar(select(Account).where(Account.external_id == "hooli"))
    db.add(Ask(beta=other, account=hooli, channel="email", asked_at=now - timedelta(days=3)))
    db.flush()
    return SimpleNamespace(beta=beta, other=other, cohort=cohort, now=now, today=now.date())


# The spreadsheet (the fake server and settings are tests/conftest.py's)


@pytest.fixture
def linked(db, beta, pm, fake, sheets):
    """Return the beta's link to a fresh spreadsheet shared with the service account."""
    fake.add_spreadsheet(SPREADSHEET, shared_with=sheets.email)
    return link_sheet(db, Actor(pm), beta, check_sheet(SPREADSHEET, sheets))


@pytest.fixture
def run_sync(app, db, sheets, sheet_settings):
    """Run one sync pass over every linked beta; return its reports (the session refreshed)."""

    def run():
        reports = sync.run_pass(app.extensions["shipcall.db"], sheets, sheet_settings, every=True)
        db.expire_all()
        return reports

    return run
