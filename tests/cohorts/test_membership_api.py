"""The membership API the product calls: the single check, and the cached list with its ETag."""

from datetime import date

import pytest

from betas import decisions
from betas.audit import Actor
from betas.auth import tokens
from betas.models import Risk, Role
from cohorts import memberships, waves

READ = ("members:read",)


@pytest.fixture
def beta_with_members(db, running_beta, make_cohort, make_account):
    beta = running_beta()
    cohort = make_cohort(beta)
    for external_id in ("acme", "globex", "quitter"):
        make_account(external_id)
    memberships.enroll(
        db, Actor(beta.owner), beta, cohort, ["acme", "globex", "quitter"], "r", date.today()
    )
    memberships.opt_out(db, Actor(beta.owner), beta, "quitter")
    db.flush()
    return beta


def test_an_active_member_is_enrolled(client, beta_with_members, bearer):
    beta = beta_with_members
    response = client.get(f"/api/v1/betas/{beta.key}/members/acme", headers=bearer(scopes=READ))
    assert response.status_code == 200
    assert response.json == {
        "beta": beta.key,
        "account": "acme",
        "enrolled": True,
        "status": "active",
        "cohort": "early",
        "beta_state": "running",
        "decision": None,
    }


def test_only_active_counts_as_enrolled(client, beta_with_members, bearer):
    beta = beta_with_members
    response = client.get(f"/api/v1/betas/{beta.key}/members/quitter", headers=bearer(scopes=READ))
    assert (response.json["enrolled"], response.json["status"]) == (False, "opted_out")


def test_an_invited_account_is_not_enrolled_yet(
    db, client, running_beta, make_cohort, make_account, bearer
):
    beta = running_beta(risk=Risk.HIGH)
    make_account("acme")
    memberships.enroll(db, Actor(beta.owner), beta, make_cohort(beta), ["acme"], "r", date.today())
    response = client.get(f"/api/v1/betas/{beta.key}/members/acme", headers=bearer(scopes=READ))
    assert (response.json["enrolled"], response.json["status"]) == (False, "invited")


def test_an_account_never_seen_is_simply_not_enrolled(client, beta_with_members, bearer):
    beta = beta_with_members
    response = client.get(
        f"/api/v1/betas/{beta.key}/members/never-seen/with/slashes", headers=bearer(scopes=READ)
    )
    assert response.status_code == 200
    assert response.json == {
        "beta": beta.key,
        "account": "never-seen/with/slashes",
        "enrolled": False,
        "status": None,
        "cohort": None,
        "beta_state": "running",
        "decision": None,
    }


def test_an_unknown_beta_is_404_and_the_scope_is_needed(
    client, beta_with_members, bearer, unchanged
):
    reader, betas_reader = bearer(scopes=READ), bearer(scopes=("betas:read",))
    key = beta_with_members.key
    with unchanged():
        assert client.get("/api/v1/betas/nope/members/acme", headers=reader).status_code == 404
        assert client.get("/api/v1/betas/nope/members", headers=reader).status_code == 404
        assert (
            client.get(f"/api/v1/betas/{key}/members/acme", headers=betas_reader).status_code == 403
        )
        assert client.get(f"/api/v1/betas/{key}/members").status_code == 401


def test_the_list_carries_a_strong_etag_and_answers_304(client, beta_with_members, bearer):
    beta = beta_with_members
    headers = bearer(scopes=READ)
    first = client.get(f"/api/v1/betas/{beta.key}/members", headers=headers)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.json["beta"] == beta.key
    assert [(m["account"], m["status"]) for m in first.json["members"]] == [
        ("acme", "active"),
        ("globex", "active"),
        ("quitter", "opted_out"),
    ]
    again = client.get(
        f"/api/v1/betas/{beta.key}/members", headers={**headers, "If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag


def test_the_etag_changes_on_enroll_and_opt_out_and_not_otherwise(
    db, client, beta_with_members, make_account, make_beta, bearer
):
    beta = beta_with_members
    headers = bearer(scopes=READ)

    def etag():
        return client.get(f"/api/v1/betas/{beta.key}/members", headers=headers).headers["ETag"]

    start = etag()
    memberships.mark_notified(db, Actor(beta.owner), beta, ["acme"])
    make_account("newcomer")
    make_beta(name="Another beta")
    db.flush()
    assert etag() == start
    cohort = waves.get_cohort(db, beta, "early")
    memberships.enroll(db, Actor(beta.owner), beta, cohort, ["newcomer"], "r", date.today())
    db.flush()
    after_enroll = etag()
    assert after_enroll != start
    memberships.opt_out(db, Actor(beta.owner), beta, "newcomer")
    db.flush()
    assert etag() not in (start, after_enroll)


def test_the_health_route_needs_nothing(client):
    assert client.get("/api/v1/health").json == {"status": "ok"}


def test_the_member_lists_statements_do_not_grow_with_its_members(
    db, client, beta_with_members, make_cohort, make_account, bearer, count_queries
):
    beta = beta_with_members
    headers = bearer(scopes=READ)
    client.get(f"/api/v1/betas/{beta.key}/members", headers=headers)  # records the token's use
    tokens.forget_grants()  # both requests below read the token's grant
    with count_queries() as three:
        assert (
            len(client.get(f"/api/v1/betas/{beta.key}/members", headers=headers).json["members"])
            == 3
        )
    ids = [make_account().external_id for _ in range(40)]
    cohort = waves.get_cohort(db, beta, "early")
    memberships.enroll(db, Actor(beta.owner), beta, cohort, ids, "r", date.today())
    db.flush()
    tokens.forget_grants()
    with count_queries() as many:
        assert (
            len(client.get(f"/api/v1/betas/{beta.key}/members", headers=headers).json["members"])
            == 43
        )
    assert 0 < many.n == three.n


def _decide(db, beta, outcome):
    return decisions.decide(
        db,
        Actor(beta.owner),
        beta,
        outcome=outcome,
        rationale="Most teams use it weekly.",
        answers={"solved": "Yes.", "replaces_existing": "No.", "marketing": "No."},
        snapshot={},
        today=date.today(),
    )


@pytest.mark.parametrize("outcome", ["ship", "no_ship"])
def test_the_check_and_the_list_carry_the_state_and_once_decided_the_decision(
    db, client, beta_with_members, bearer, outcome
):
    beta, headers = beta_with_members, bearer(scopes=READ)
    check = f"/api/v1/betas/{beta.key}/members/acme"
    listing = f"/api/v1/betas/{beta.key}/members"
    assert client.get(listing, headers=headers).json["beta_state"] == "running"
    _decide(db, beta, outcome)
    db.flush()
    answered = client.get(check, headers=headers).json
    assert (answered["beta_state"], answered["decision"], answered["enrolled"]) == (
        "decided",
        outcome,
        True,
    )
    listed = client.get(listing, headers=headers).json
    assert (listed["beta_state"], listed["decision"]) == ("decided", outcome)
    assert len(listed["members"]) == 3


def test_the_list_etag_changes_when_the_beta_is_decided_and_reopened(
    db, client, beta_with_members, bearer, make_user
):
    beta, headers = beta_with_members, bearer(scopes=READ)
    listing = f"/api/v1/betas/{beta.key}/members"
    running = client.get(listing, headers=headers).headers["ETag"]
    _decide(db, beta, "ship")
    db.flush()
    shipped = client.get(listing, headers={**headers, "If-None-Match": running})
    assert shipped.status_code == 200 and shipped.headers["ETag"] != running
    decisions.reopen(db, Actor(make_user(Role.ADMIN)), beta, reason="Second look.")
    db.flush()
    reopened = client.get(listing, headers={**headers, "If-None-Match": shipped.headers["ETag"]})
    assert reopened.status_code == 200
    assert (reopened.json["beta_state"], reopened.json["decision"]) == ("running", None)
