"""The finder's JSON API: adopter search, hostile queries, scopes, and saved problem searches."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from betas.models import AuditEntry, BetaState, Role
from cohorts.models import (
    Account,
    Cohort,
    CohortKind,
    Membership,
    MembershipStatus,
    ProblemSearch,
)
from tests.cohorts.conversations import NOW, converse
from tests.helpers import assert_error, fields_of

API = "/api/v1/betas/csv-export"
HOSTILE = [
    '"',
    "(((",
    ")",
    "NOT",
    "AND OR NOT",
    "col:x",
    "body:export",
    "*",
    "export*",
    "-",
    "--",
    "^",
    "^export",
    "NEAR(a b)",
    "NEAR(export csv, 2)",
    "export + csv",
    '"export',
    '""export""',
    "'; DROP TABLE accounts; --",
    "export & !csv | (pdf <-> x) :*",
    "日本語 😀",
    "😀",
    "\x00",
    "export\ud800",
    "e\u0301xport",
    "x" * 10_000,
    "export " * 80,
    '"' * 499,
]


@pytest.fixture
def beta(make_beta):
    return make_beta(state=BetaState.RUNNING, key="csv-export")


@pytest.fixture
def asked(db):
    converse(db, "acme", "Can we export to CSV?", "<b>CSV</b> exports & more, please")
    converse(db, "acme", "Still waiting for the CSV export", at=NOW - timedelta(days=1))
    converse(db, "globex", "exporting to csv would help")
    converse(db, "hooli", ("teammate", "You can export to CSV from Reports."))


def test_the_search_answers_accounts_with_their_evidence(client, bearer, beta, asked):
    response = client.post(
        f"{API}/adopter-search", json={"query": "csv export"}, headers=bearer(scopes=["betas:read"])
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["query"], body["total_accounts"]) == ("csv export", 2)
    acme, globex = body["results"]
    assert set(acme) == {
        "account",
        "name",
        "score",
        "conversations",
        "last_match_at",
        "evidence",
        "in_this_beta",
        "other_betas",
    }
    assert (acme["account"], acme["conversations"], globex["account"]) == ("acme", 2, "globex")
    assert acme["score"] > globex["score"]
    assert [e["snippet"] for e in acme["evidence"]] == [
        "Still waiting for the <mark>CSV</mark> <mark>export</mark>",
        "&lt;b&gt;<mark>CSV</mark>&lt;/b&gt; <mark>exports</mark> &amp; more, please",
        "Can we <mark>export</mark> to <mark>CSV</mark>?",
    ]
    assert all(e["conversation"].startswith("conv-") for e in acme["evidence"])
    assert (acme["in_this_beta"], acme["other_betas"]) == (None, [])


def test_the_search_filters_by_dates_and_tags_and_limits_the_results(
    client, db, bearer, beta, asked, unchanged
):
    converse(db, "initech", "csv export for billing", tags=["billing"])
    headers = bearer(scopes=["betas:read"])
    body = client.post(
        f"{API}/adopter-search", json={"query": "csv", "tags": ["billing"]}, headers=headers
    ).get_json()
    assert [r["account"] for r in body["results"]] == ["initech"]
    body = client.post(
        f"{API}/adopter-search", json={"query": "csv", "limit": 1}, headers=headers
    ).get_json()
    assert (len(body["results"]), body["total_accounts"]) == (1, 3)
    body = client.post(
        f"{API}/adopter-search", json={"query": "csv", "until": "2000-01-01"}, headers=headers
    ).get_json()
    assert (body["results"], body["total_accounts"]) == ([], 0)
    with unchanged():
        for bad in ({"limit": 0}, {"limit": 201}, {"since": "yesterday"}, {"tags": "billing"}):
            response = client.post(
                f"{API}/adopter-search", json={"query": "csv", **bad}, headers=headers
            )
            assert_error(response, 422, "validation_failed")
        response = client.post(
            f"{API}/adopter-search",
            json={"query": "csv", "since": "2026-10-02", "until": "2026-10-01"},
            headers=headers,
        )
    assert fields_of(assert_error(response, 400, "invalid_query")) == ["until"]


def test_the_search_flags_accounts_in_this_beta_and_in_other_running_betas(
    client, db, bearer, beta, make_beta, asked
):
    other = make_beta(state=BetaState.RUNNING, key="other-beta")
    acme = db.scalar(select(Account).where(Account.external_id == "acme"))
    globex = db.scalar(select(Account).where(Account.external_id == "globex"))
    for b, account in ((beta, acme), (other, globex)):
        cohort = Cohort(beta=b, slug="wave-1", name="Wave 1", kind=CohortKind.EARLY_ADOPTERS)
        db.add(Membership(beta=b, account=account, cohort=cohort, status=MembershipStatus.INVITED))
    db.flush()
    body = client.post(
        f"{API}/adopter-search", json={"query": "csv"}, headers=bearer(scopes=["betas:read"])
    ).get_json()
    flags = {r["account"]: (r["in_this_beta"], r["other_betas"]) for r in body["results"]}
    assert flags == {
        "acme": ({"cohort": "wave-1", "status": "invited"}, []),
        "globex": (None, ["other-beta"]),
    }


def test_hostile_queries_answer_200_or_400_never_500(client, bearer, beta, asked, unchanged):
    headers = bearer(scopes=["betas:read"])
    for query in HOSTILE:
        with unchanged():
            response = client.post(f"{API}/adopter-search", json={"query": query}, headers=headers)
        assert response.status_code in (200, 400), (query, response.get_data(as_text=True))
        if response.status_code == 400:
            assert_error(response, 400, "invalid_query")
        else:
            assert isinstance(response.get_json()["results"], list)


def test_nothing_to_search_for_or_too_long_is_a_clear_400(client, bearer, beta, unchanged):
    headers = bearer(scopes=["betas:read"])
    for query, message in (
        ("-export", "Add at least one word to search for."),
        ("the OR to", "Add at least one word to search for."),
        ("x" * 10_000, "Searches are at most 500 characters; this one has 10000."),
    ):
        with unchanged():
            response = client.post(f"{API}/adopter-search", json={"query": query}, headers=headers)
        error = assert_error(response, 400, "invalid_query")
        assert error["message"].startswith(message)
        assert fields_of(error) == ["query"]


def test_the_search_needs_a_token_with_the_read_scope(client, bearer, beta, unchanged):
    members_only, full = bearer(scopes=["members:read"]), bearer()
    with unchanged():
        response = client.post(f"{API}/adopter-search", json={"query": "csv"})
    assert_error(response, 401, "unauthorized")
    with unchanged():
        response = client.post(f"{API}/adopter-search", json={"query": "csv"}, headers=members_only)
    assert_error(response, 403, "forbidden")
    with unchanged():
        response = client.post(
            "/api/v1/betas/nope/adopter-search", json={"query": "csv"}, headers=full
        )
    assert_error(response, 404, "not_found")


def test_saving_a_problem_search_answers_201_then_409_for_the_same_search(
    client, db, bearer, beta, unchanged
):
    headers = bearer(user=beta.owner)
    response = client.post(
        f"{API}/problem-searches", json={"query": "csv  export"}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body == {"id": body["id"], "query": "csv export"}
    saved = db.get(ProblemSearch, body["id"])
    assert (saved.beta_id, saved.created_by) == (beta.id, beta.owner)
    assert db.scalar(select(AuditEntry).where(AuditEntry.action == "problem_search.saved"))
    with unchanged():
        response = client.post(
            f"{API}/problem-searches", json={"query": "CSV export"}, headers=headers
        )
    assert_error(response, 409, "conflict")
    with unchanged():
        response = client.post(f"{API}/problem-searches", json={"query": "-csv"}, headers=headers)
    assert_error(response, 400, "invalid_query")


def test_saving_needs_the_write_scope_and_the_right_to_change_the_beta(
    client, bearer, make_user, beta, unchanged
):
    read_only = bearer(user=beta.owner, scopes=["betas:read"])
    viewer = bearer(user=make_user(Role.VIEWER))
    owner = bearer(user=beta.owner)
    with unchanged():
        response = client.post(f"{API}/problem-searches", json={"query": "csv"}, headers=read_only)
    assert_error(response, 403, "forbidden")
    with unchanged():
        response = client.post(f"{API}/problem-searches", json={"query": "csv"}, headers=viewer)
    assert_error(response, 403, "forbidden")
    with unchanged():
        response = client.post(
            f"{API}/problem-searches", json={"query": "csv", "beta": "x"}, headers=owner
        )
    assert_error(response, 400, "unknown_field")
