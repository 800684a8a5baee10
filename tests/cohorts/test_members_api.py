"""The cohorts and members API: create a wave, enroll, place, opt out; refusals and scopes."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from betas.audit import Actor
from betas.models import AuditEntry, BetaState, Risk
from cohorts import memberships
from cohorts.models import Cohort, Membership, MembershipStatus
from tests.helpers import assert_error

WRITE = ("members:write",)


@pytest.fixture
def owner_headers(bearer):
    return lambda beta: bearer(beta.owner, WRITE)


def test_create_a_cohort(client, running_beta, owner_headers, db):
    beta = running_beta()
    response = client.post(
        f"/api/v1/betas/{beta.key}/cohorts",
        json={
            "slug": "early",
            "name": "Early adopters",
            "kind": "early_adopters",
            "planned_size": 25,
        },
        headers=owner_headers(beta),
    )
    assert response.status_code == 201
    assert response.json == {
        "slug": "early",
        "name": "Early adopters",
        "kind": "early_adopters",
        "planned_size": 25,
        "position": 1,
        "criteria": {},
    }


def test_enroll_returns_enrolled_and_skipped(
    client, running_beta, make_cohort, make_account, owner_headers
):
    beta = running_beta()
    make_cohort(beta)
    make_account("acme")
    response = client.post(
        f"/api/v1/betas/{beta.key}/cohorts/early/members",
        json={"accounts": ["acme", "ghost"], "reason": "asked in 2 conversations"},
        headers=owner_headers(beta),
    )
    assert response.status_code == 200
    assert response.json == {
        "enrolled": ["acme"],
        "skipped": [{"account": "ghost", "reason": "no such account"}],
    }


def test_put_moves_and_delete_opts_out_for_good(
    client, db, running_beta, make_cohort, make_account, owner_headers, unchanged
):
    beta = running_beta()
    make_cohort(beta, "early")
    make_cohort(beta, "later")
    make_account("acme")
    headers = owner_headers(beta)
    url = f"/api/v1/betas/{beta.key}/members/acme"
    assert (
        client.put(url, json={"cohort": "early", "reason": "asked"}, headers=headers).json["cohort"]
        == "early"
    )
    moved = client.put(url, json={"cohort": "later", "reason": "wave 2"}, headers=headers)
    assert (moved.status_code, moved.json["cohort"], moved.json["status"]) == (
        200,
        "later",
        "active",
    )
    out = client.delete(url, headers=headers)
    assert out.json["status"] == "opted_out"
    with unchanged():
        refused = client.put(url, json={"cohort": "early"}, headers=headers)
    assert (refused.status_code, refused.json["error"]["code"]) == (409, "opted_out")
    back = client.put(url, json={"cohort": "early", "override_opt_out": True}, headers=headers)
    assert back.json["status"] == "active"


@pytest.mark.parametrize(
    ("state", "days", "code"),
    [(BetaState.DRAFT, 5, "beta_not_running"), (BetaState.RUNNING, -2, "beta_overdue")],
)
def test_refusals_say_why_and_change_nothing(
    client, db, make_beta, make_cohort, make_account, owner_headers, state, days, code, unchanged
):
    beta = make_beta(state=state, deadline=date.today() + timedelta(days=days))
    make_cohort(beta)
    make_account("acme")
    headers = owner_headers(beta)
    with unchanged():
        response = client.post(
            f"/api/v1/betas/{beta.key}/cohorts/early/members",
            json={"accounts": ["acme"], "reason": "r"},
            headers=headers,
        )
    assert (response.status_code, response.json["error"]["code"]) == (409, code)
    assert db.scalar(select(func.count()).select_from(Membership)) == 0
    with unchanged():
        response = client.post(
            f"/api/v1/betas/{beta.key}/cohorts",
            json={"slug": "w2", "name": "W2", "kind": "manual"},
            headers=headers,
        )
    assert response.json["error"]["code"] == code
    assert db.scalar(select(func.count()).select_from(Cohort)) == 1


def test_scopes_and_roles_are_checked(
    client, running_beta, make_cohort, make_user, bearer, unchanged
):
    beta = running_beta()
    make_cohort(beta)
    url = f"/api/v1/betas/{beta.key}/cohorts/early/members"
    body = {"accounts": ["x"], "reason": "r"}
    betas_only = bearer(beta.owner, ("betas:write",))
    another_pm = bearer(make_user(), WRITE)
    with unchanged():
        assert client.post(url, json=body).status_code == 401
        assert client.post(url, json=body, headers=betas_only).status_code == 403
        assert client.post(url, json=body, headers=another_pm).status_code == 403


def test_bad_bodies_are_refused(client, running_beta, make_cohort, owner_headers, unchanged):
    beta = running_beta()
    make_cohort(beta)
    url = f"/api/v1/betas/{beta.key}/cohorts/early/members"
    headers = owner_headers(beta)
    too_many = {"accounts": [f"a{i}" for i in range(10_001)], "reason": "r"}
    with unchanged():
        assert (
            client.post(url, json={"accounts": [], "reason": "r"}, headers=headers).status_code
            == 422
        )
        assert client.post(url, json=too_many, headers=headers).status_code in (413, 422)
        assert (
            client.post(
                url, json={"accounts": ["a"], "reason": "r", "x": 1}, headers=headers
            ).status_code
            == 400
        )
        missing = client.post(
            f"/api/v1/betas/{beta.key}/cohorts/nope/members",
            json={"accounts": ["a"], "reason": "r"},
            headers=headers,
        )
    assert missing.status_code == 404


def test_opting_out_an_account_not_in_the_beta_is_404(
    client, running_beta, owner_headers, unchanged
):
    beta = running_beta()
    headers = owner_headers(beta)
    with unchanged():
        response = client.delete(f"/api/v1/betas/{beta.key}/members/ghost", headers=headers)
    assert response.status_code == 404


def test_invited_members_of_a_high_risk_beta(
    client, db, running_beta, make_cohort, make_account, owner_headers
):

    beta = running_beta(risk=Risk.HIGH)
    make_cohort(beta)
    make_account("acme")
    client.post(
        f"/api/v1/betas/{beta.key}/cohorts/early/members",
        json={"accounts": ["acme"], "reason": "r"},
        headers=owner_headers(beta),
    )
    status = db.scalar(select(Membership.status))
    assert status == MembershipStatus.INVITED


def test_the_api_opts_out_with_an_optional_reason(
    db, client, running_beta, make_cohort, make_account, bearer, unchanged
):
    beta = running_beta()
    for name in ("acme", "globex"):
        make_account(name)
    memberships.enroll(
        db, Actor(beta.owner), beta, make_cohort(beta), ["acme", "globex"], "r", date.today()
    )
    headers = bearer(beta.owner, ("members:write",))
    members = f"/api/v1/betas/{beta.key}/members"
    with unchanged():
        refused = client.delete(f"{members}/acme", json={"why": "busy"}, headers=headers)
    assert_error(refused, 400, "unknown_field")
    with unchanged():
        refused = client.delete(f"{members}/acme", json={"reason": "x" * 10_001}, headers=headers)
    assert_error(refused, 422, "validation_failed")

    out = client.delete(f"{members}/acme", json={"reason": "switched tools"}, headers=headers)
    assert out.status_code == 200
    assert (out.json["status"], out.json["opt_out_reason"]) == ("opted_out", "switched tools")
    assert out.json["left_at"] is not None
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "member.opted_out"))
    assert entry.details["reason"] == "switched tools"

    plain = client.delete(f"{members}/globex", headers=headers)
    assert (plain.status_code, plain.json["opt_out_reason"]) == (200, None)
