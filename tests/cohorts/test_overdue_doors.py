"""An overdue beta grows through no door; declining an invitation still works.

Every page and API route that enrolls, samples, accepts an invitation or creates a cohort refuses
with the reason and writes nothing, and the same request on time goes through. The command line
has no door that grows a beta: its imports write accounts and conversations, never memberships
or cohorts.
"""

from datetime import date, timedelta

import pytest

from betas.audit import Actor
from betas.auth.tokens import SCOPES
from betas.models import Risk
from cohorts import memberships
from cohorts.models import CohortKind, MembershipStatus
from tests.cohorts.conversations import converse
from tests.helpers import snapshot

OVERDUE = "passed its decision deadline"

PAGES = {
    "create a cohort": ("cohorts", {"name": "Wave 2", "slug": "wave-2", "kind": "manual"}),
    "enroll": ("cohorts/early/members", {"accounts": "fresh", "reason": "asked"}),
    "draw a sample": (
        "cohorts/random/sample/draw",
        {"size": "1", "seed": "s", "filters": "", "mix_by": ""},
    ),
    "enroll from the finder": (
        "finder/enroll",
        {
            "query": "export",
            "cohort": "early",
            "new_cohort": "",
            "accounts": ["fresh"],
            "enroll_selected": "Enroll selected",
        },
    ),
    "accept an invitation": ("members/invited/accept", {}),
}

API = {
    "create a cohort": ("post", "cohorts", {"slug": "wave-2", "name": "Wave 2", "kind": "manual"}),
    "enroll": ("post", "cohorts/early/members", {"accounts": ["fresh"], "reason": "asked"}),
    "place a new member": ("put", "members/fresh", {"cohort": "early"}),
    "draw a sample": ("post", "cohorts/random/sample", {"size": 1, "seed": "s"}),
}


@pytest.fixture
def overdue(db, running_beta, make_cohort, make_account):
    """Return a high-risk beta, two days overdue: an invited member, and an account that asked."""
    beta = running_beta(risk=Risk.HIGH, deadline=date.today() + timedelta(days=5))
    early = make_cohort(beta, "early")
    make_cohort(beta, "random", CohortKind.RANDOM_SAMPLE)
    make_account("invited")
    make_account("fresh")
    converse(db, "fresh", "can I export this to CSV?")
    memberships.enroll(db, Actor(beta.owner), beta, early, ["invited"], "asked", date.today())
    beta.decision_deadline = date.today() - timedelta(days=2)
    db.flush()
    return beta


def on_time(db, beta):
    beta.decision_deadline = date.today() + timedelta(days=5)
    db.flush()


@pytest.mark.parametrize("door", PAGES)
def test_no_page_grows_an_overdue_beta(db, client, login, post, overdue, unchanged, door):
    path, form = PAGES[door]
    login(overdue.owner)
    with unchanged():
        response = post(f"/betas/{overdue.key}/{path}", form, follow_redirects=True)
    assert OVERDUE in response.get_data(as_text=True)
    # The same request on time goes through: the deadline, nothing else, refused it.
    on_time(db, overdue)
    before = snapshot(db)
    response = post(f"/betas/{overdue.key}/{path}", form, follow_redirects=True)
    assert OVERDUE not in response.get_data(as_text=True)
    assert snapshot(db) != before


@pytest.mark.parametrize("door", API)
def test_no_api_route_grows_an_overdue_beta(db, client, bearer, overdue, unchanged, door):
    method, path, body = API[door]
    headers = bearer(overdue.owner, SCOPES)
    with unchanged():
        response = getattr(client, method)(
            f"/api/v1/betas/{overdue.key}/{path}", json=body, headers=headers
        )
    assert (response.status_code, response.json["error"]["code"]) == (409, "beta_overdue")
    assert OVERDUE in response.json["error"]["message"]
    on_time(db, overdue)
    response = getattr(client, method)(
        f"/api/v1/betas/{overdue.key}/{path}", json=body, headers=headers
    )
    assert response.status_code in (200, 201), response.get_data(as_text=True)


def test_an_invitation_is_still_declined_on_an_overdue_beta(db, client, login, post, overdue):
    login(overdue.owner)
    post(f"/betas/{overdue.key}/members/invited/decline")
    membership = memberships.get_membership(db, overdue, "invited")
    assert membership.status == MembershipStatus.DECLINED


def test_an_extension_opens_every_door_again(db, client, login, post, overdue):
    login(overdue.owner)
    new = (date.today() + timedelta(days=7)).isoformat()
    post(f"/betas/{overdue.key}/extensions", {"new_deadline": new, "reason": "Two calls left"})
    response = post(f"/betas/{overdue.key}/members/invited/accept", follow_redirects=True)
    assert OVERDUE not in response.get_data(as_text=True)
    assert memberships.get_membership(db, overdue, "invited").status == MembershipStatus.ACTIVE
