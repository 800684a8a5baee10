"""The random-sample API: a dry run enrolls nobody, a real run enrolls with the reason; refusals."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from betas.models import BetaState, Role
from cohorts import roster, waves
from cohorts.models import CohortKind, Membership

WRITE = ("members:write",)


@pytest.fixture
def sample_beta(running_beta, make_cohort, make_account):
    """Return a running beta with a random-sample cohort and ten accounts acct-1..acct-10."""
    beta = running_beta()
    make_cohort(beta, "random", CohortKind.RANDOM_SAMPLE)
    for n in range(10):
        make_account(plan="pro" if n < 4 else "free")
    return beta


def url(beta, slug: str = "random") -> str:
    return f"/api/v1/betas/{beta.key}/cohorts/{slug}/sample"


def lowest(beta, seed: str, external_ids, n: int) -> list[str]:
    def rank(external_id: str) -> str:
        return hashlib.sha1(f"{beta.key}\x1f{seed}\x1f{external_id}".encode()).hexdigest()

    return sorted(external_ids, key=rank)[:n]


ALL = [f"acct-{n}" for n in range(1, 11)]


def memberships(db, beta) -> int:
    return db.scalar(select(func.count()).where(Membership.beta_id == beta.id))


def test_a_dry_run_shows_the_sample_and_enrolls_nobody(db, client, bearer, sample_beta, unchanged):
    beta = sample_beta
    headers = bearer(beta.owner, WRITE)
    with unchanged():
        response = client.post(
            url(beta), json={"size": 3, "seed": "abc", "dry_run": True}, headers=headers
        )
    assert response.status_code == 200
    assert response.json == {
        "seed": "abc",
        "pool_size": 10,
        "accounts": lowest(beta, "abc", ALL, 3),
        "enrolled": False,
    }
    assert memberships(db, beta) == 0
    assert waves.get_cohort(db, beta, "random").criteria == {}


def test_a_run_enrolls_the_sample_with_its_seed_and_pool_as_the_reason(
    db, client, bearer, sample_beta
):
    beta = sample_beta
    response = client.post(url(beta), json={"size": 4}, headers=bearer(beta.owner, WRITE))
    assert response.status_code == 200
    body = response.json
    seed = body["seed"]
    assert body["enrolled"] is True and body["pool_size"] == 10
    assert body["accounts"] == lowest(beta, seed, ALL, 4)
    members = roster.members(db, beta)
    assert sorted(m.account.external_id for m in members) == sorted(body["accounts"])
    assert {m.reason for m in members} == {f"random sample (seed {seed}, pool of 10)"}
    assert waves.get_cohort(db, beta, "random").criteria["seed"] == seed


def test_filters_and_strata_reach_the_draw(db, client, bearer, sample_beta):
    beta = sample_beta
    headers = bearer(beta.owner, WRITE)
    body = {"size": 2, "seed": "f", "filters": {"plan": ["pro"]}, "dry_run": True}
    filtered = client.post(url(beta), json=body, headers=headers).json
    assert filtered["pool_size"] == 4
    assert filtered["accounts"] == lowest(beta, "f", ALL[:4], 2)
    body = {"size": 5, "seed": "s", "stratify_by": "plan", "dry_run": True}
    stratified = client.post(url(beta), json=body, headers=headers).json
    assert sorted(stratified["accounts"]) == sorted(
        lowest(beta, "s", ALL[:4], 2) + lowest(beta, "s", ALL[4:], 3)
    )


def test_a_pool_too_small_is_refused_with_its_size(db, client, bearer, sample_beta, unchanged):
    beta = sample_beta
    headers = bearer(beta.owner, WRITE)
    with unchanged():
        response = client.post(
            url(beta), json={"size": 5, "filters": {"plan": ["pro"]}}, headers=headers
        )
    assert response.status_code == 409
    error = response.json["error"]
    assert error["code"] == "pool_too_small"
    assert error["message"].startswith("The pool holds 4 accounts, fewer than the 5 asked for")
    assert error["details"] == [{"field": "size", "message": "At most 4, the pool's size."}]
    assert memberships(db, beta) == 0


def test_only_random_sample_cohorts_take_samples(
    client, bearer, sample_beta, make_cohort, unchanged
):
    beta = sample_beta
    make_cohort(beta, "early", CohortKind.EARLY_ADOPTERS)
    headers = bearer(beta.owner, WRITE)
    with unchanged():
        response = client.post(url(beta, "early"), json={"size": 1}, headers=headers)
    assert (response.status_code, response.json["error"]["code"]) == (409, "not_a_random_sample")


def test_an_overdue_beta_refuses_samples(db, client, bearer, sample_beta, unchanged):
    beta = sample_beta
    beta.decision_deadline = date.today() - timedelta(days=1)
    db.flush()
    headers = bearer(beta.owner, WRITE)
    with unchanged():
        response = client.post(url(beta), json={"size": 1}, headers=headers)
    assert (response.status_code, response.json["error"]["code"]) == (409, "beta_overdue")


def test_a_beta_that_is_not_running_refuses_samples(db, client, bearer, sample_beta, unchanged):
    beta = sample_beta
    beta.state = BetaState.DECIDED
    db.flush()
    headers = bearer(beta.owner, WRITE)
    with unchanged():
        response = client.post(url(beta), json={"size": 1}, headers=headers)
    assert (response.status_code, response.json["error"]["code"]) == (409, "beta_not_running")


def test_the_scope_and_the_role_are_required(client, bearer, make_user, sample_beta, unchanged):
    beta = sample_beta
    read_only_headers = bearer(beta.owner, ("betas:read",))
    someone_else = bearer(make_user(Role.PM), WRITE)
    with unchanged():
        read_only = client.post(url(beta), json={"size": 1}, headers=read_only_headers)
    assert read_only.status_code == 403
    with unchanged():
        response = client.post(url(beta), json={"size": 1}, headers=someone_else)
    assert (response.status_code, response.json["error"]["code"]) == (403, "forbidden")
    with unchanged():
        assert client.post(url(beta), json={"size": 1}).status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"size": 0}, 422, "validation_failed"),
        ({}, 422, "validation_failed"),
        ({"size": 1, "filters": {"plan": "pro"}}, 422, "validation_failed"),
        ({"size": 1, "seed": "no spaces please"}, 422, "validation_failed"),
        ({"size": 1, "random": True}, 400, "unknown_field"),
    ],
)
def test_bodies_out_of_bounds_are_refused(
    client, bearer, sample_beta, body, status, code, unchanged
):
    beta = sample_beta
    headers = bearer(beta.owner, WRITE)
    with unchanged():
        response = client.post(url(beta), json=body, headers=headers)
    assert (response.status_code, response.json["error"]["code"]) == (status, code)


def test_the_route_is_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/betas/{key}/cohorts/{slug}/sample"]["post"]
    assert "pool_too_small" in operation["description"]


def test_attribute_names_match_whatever_their_case(
    client, bearer, running_beta, make_cohort, make_account
):
    beta = running_beta()
    make_cohort(beta, "random", CohortKind.RANDOM_SAMPLE)
    for n in range(10):
        make_account(Plan="pro" if n < 4 else "free")
    headers = bearer(beta.owner, WRITE)
    body = {"size": 2, "seed": "f", "filters": {"plan": ["pro"]}, "dry_run": True}
    filtered = client.post(url(beta), json=body, headers=headers).json
    assert filtered["accounts"] == lowest(beta, "f", ALL[:4], 2)
    body = {"size": 5, "seed": "s", "stratify_by": "PLAN", "dry_run": True}
    stratified = client.post(url(beta), json=body, headers=headers).json
    assert sorted(stratified["accounts"]) == sorted(
        lowest(beta, "s", ALL[:4], 2) + lowest(beta, "s", ALL[4:], 3)
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"size": 1, "filters": {"plann": ["pro"]}}, "filters"),
        ({"size": 1, "stratify_by": "plann"}, "stratify_by"),
    ],
)
def test_an_attribute_no_account_has_is_refused_with_its_name(
    client, bearer, sample_beta, body, field, unchanged
):
    beta = sample_beta
    headers = bearer(beta.owner, WRITE)
    with unchanged():
        response = client.post(url(beta), json=body, headers=headers)
    assert (response.status_code, response.json["error"]["code"]) == (422, "validation_failed")
    message = "No account has an attribute called 'plann'; known attributes: plan."
    assert response.json["error"]["details"] == [{"field": field, "message": message}]


def test_filters_no_account_matches_are_refused_naming_them(client, bearer, sample_beta, unchanged):
    beta = sample_beta
    body = {"size": 3, "filters": {"plan": ["gold"]}}
    headers = bearer(beta.owner, WRITE)
    with unchanged():
        response = client.post(url(beta), json=body, headers=headers)
    assert (response.status_code, response.json["error"]["code"]) == (409, "pool_too_small")
    assert response.json["error"]["message"].startswith(
        "No account in the pool matches the filters plan = gold: loosen them"
    )
    assert [d["field"] for d in response.json["error"]["details"]] == ["filters"]
