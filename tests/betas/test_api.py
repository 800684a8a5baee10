"""The JSON API under /api/v1: betas and their life, its errors, tokens, audit and OpenAPI."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from alembic import command
from sqlalchemy import func, select

from betas import lifecycle
from betas.audit import Actor
from betas.auth import tokens, users
from betas.db import alembic_config, utcnow
from betas.models import (
    ApiToken,
    AuditEntry,
    Beta,
    BetaState,
    DeadlineExtension,
    Role,
    SuccessMetric,
    User,
)
from shipcall.app import MAX_REQUEST_BYTES
from tests.helpers import WEEKLY_USE_RULE, assert_error, fields_of, make_app, token_row

API = "/api/v1"
BETA_FIELDS = {
    "key",
    "name",
    "state",
    "overdue",
    "decision_deadline",
    "problem",
    "learning_goals",
    "customer_outcome",
    "business_outcomes",
    "risk",
    "owner",
    "metrics",
    "extensions",
}
METRIC = {
    "name": "Weekly use",
    "stage": "adoption",
    "target": 40,
    "unit": "percent",
    "rule": WEEKLY_USE_RULE,
}


# Helpers


def iso(day: date) -> str:
    return day.isoformat()


def count(db, model, *where) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model).where(*where))


def token_of(db, headers: dict[str, str]) -> ApiToken:
    secret = headers["Authorization"].removeprefix("Bearer ")
    token = token_row(db, secret)
    assert token is not None
    return token


@pytest.fixture
def days(app):
    """Count dates from today in the app's zone, where deadlines are read: -2 is two days ago."""
    today = lifecycle.today_in(app.config["SHIPCALL"].zone)
    return lambda n: today + timedelta(days=n)


@pytest.fixture
def pm(make_user):
    return make_user(Role.PM)


@pytest.fixture
def headers(bearer, pm):
    return bearer(pm)


# Listing


def test_list_is_empty_without_betas(client, headers):
    response = client.get(f"{API}/betas", headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {"betas": []}


def test_list_puts_overdue_running_betas_first_then_running_then_drafts(
    client, headers, make_beta, days
):
    make_beta(key="draft-soon", deadline=days(3))
    make_beta(key="running-later", state=BetaState.RUNNING, deadline=days(20))
    make_beta(key="running-soon", state=BetaState.RUNNING, deadline=days(5))
    make_beta(key="overdue", state=BetaState.RUNNING, deadline=days(-2))
    response = client.get(f"{API}/betas", headers=headers)
    assert response.status_code == 200
    betas = response.get_json()["betas"]
    assert [b["key"] for b in betas] == ["overdue", "running-soon", "running-later", "draft-soon"]
    assert [b["overdue"] for b in betas] == [True, False, False, False]
    assert all(set(b) == BETA_FIELDS for b in betas)


def test_list_needs_only_the_read_scope(client, bearer, make_beta):
    make_beta(key="visible")
    response = client.get(f"{API}/betas", headers=bearer(scopes=("betas:read",)))
    assert response.status_code == 200
    assert [b["key"] for b in response.get_json()["betas"]] == ["visible"]


def test_a_viewer_may_read_betas(client, bearer, make_user, make_beta):
    make_beta(key="visible")
    viewer_headers = bearer(make_user(Role.VIEWER), scopes=("betas:read",))
    assert client.get(f"{API}/betas", headers=viewer_headers).status_code == 200
    assert client.get(f"{API}/betas/visible", headers=viewer_headers).status_code == 200


# Creating


def test_create_returns_201_with_a_draft_owned_by_the_tokens_user(client, db, headers, pm):
    response = client.post(
        f"{API}/betas", json={"key": "inbox-reports", "name": "Inbox reports"}, headers=headers
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == BETA_FIELDS
    assert body["key"] == "inbox-reports"
    assert body["name"] == "Inbox reports"
    assert body["state"] == "draft"
    assert body["owner"] == pm.email
    assert body["overdue"] is False
    assert body["metrics"] == [] and body["extensions"] == []
    db.expire_all()
    beta = db.scalar(select(Beta).where(Beta.key == "inbox-reports"))
    assert beta is not None
    assert beta.state == BetaState.DRAFT
    assert beta.owner_id == pm.id


def test_create_stores_every_framing_field_it_is_given(client, db, headers, days):
    payload = {
        "key": "inbox-reports",
        "name": "  Inbox reports  ",
        "problem": "Teams cannot see how fast they answer.",
        "learning_goals": "Do teams open the reports weekly?",
        "customer_outcome": "Faster answers.",
        "business_outcomes": ["retention", "expansion", "retention"],
        "risk": "high",
        "decision_deadline": iso(days(30)),
    }
    response = client.post(f"{API}/betas", json=payload, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["name"] == "Inbox reports"
    assert body["problem"] == payload["problem"]
    assert body["learning_goals"] == payload["learning_goals"]
    assert body["customer_outcome"] == payload["customer_outcome"]
    assert body["business_outcomes"] == ["expansion", "retention"]
    assert body["risk"] == "high"
    assert body["decision_deadline"] == iso(days(30))
    db.expire_all()
    beta = db.scalar(select(Beta).where(Beta.key == "inbox-reports"))
    assert beta.decision_deadline == days(30)
    assert beta.business_outcomes == ["expansion", "retention"]


def test_create_with_an_owner_email_makes_that_user_the_owner(client, db, headers, make_user):
    other = make_user(Role.PM, email="owner@example.com")
    response = client.post(
        f"{API}/betas",
        json={"key": "owned", "name": "Owned", "owner": "Owner@Example.com"},
        headers=headers,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["owner"] == "owner@example.com"
    db.expire_all()
    assert db.scalar(select(Beta.owner_id).where(Beta.key == "owned")) == other.id


def test_an_admin_may_create_a_beta(client, bearer, make_user):
    admin = make_user(Role.ADMIN)
    response = client.post(
        f"{API}/betas", json={"key": "by-admin", "name": "By admin"}, headers=bearer(admin)
    )
    assert response.status_code == 201
    assert response.get_json()["owner"] == admin.email


def test_create_with_an_unknown_owner_is_422_on_owner_and_writes_nothing(
    client, unchanged, headers
):
    with unchanged():
        response = client.post(
            f"{API}/betas",
            json={"key": "orphan", "name": "Orphan", "owner": "nobody@example.com"},
            headers=headers,
        )
    error = assert_error(response, 422, "validation_failed")
    assert fields_of(error) == ["owner"]


def test_create_with_a_viewer_as_owner_is_422_on_owner(client, unchanged, headers, make_user):
    viewer = make_user(Role.VIEWER)
    with unchanged():
        response = client.post(
            f"{API}/betas", json={"key": "x", "name": "X", "owner": viewer.email}, headers=headers
        )
    assert fields_of(assert_error(response, 422, "validation_failed")) == ["owner"]


def test_create_by_a_viewers_token_is_403_and_writes_nothing(
    client, db, bearer, make_user, unchanged
):
    viewer_headers = bearer(make_user(Role.VIEWER))
    with unchanged():
        response = client.post(
            f"{API}/betas", json={"key": "x", "name": "X"}, headers=viewer_headers
        )
    assert_error(response, 403, "forbidden")
    assert count(db, Beta) == 0


def test_create_with_a_taken_key_is_409_conflict_on_key(client, db, headers, make_beta, unchanged):
    make_beta(key="taken")
    with unchanged():
        response = client.post(
            f"{API}/betas", json={"key": "taken", "name": "Again"}, headers=headers
        )
    error = assert_error(response, 409, "conflict")
    assert fields_of(error) == ["key"]
    assert count(db, Beta, Beta.key == "taken") == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "No key"}, "key"),
        ({"key": "no-name"}, "name"),
        ({"key": "Not A Key", "name": "X"}, "key"),
        ({"key": "x", "name": "X", "risk": "medium"}, "risk"),
        ({"key": "x", "name": "X", "business_outcomes": ["fame"]}, "business_outcomes.0"),
        ({"key": "x", "name": "X", "decision_deadline": "next friday"}, "decision_deadline"),
        ({"key": "x", "name": "X", "owner": "not an email"}, "owner"),
    ],
)
def test_create_with_an_invalid_value_is_422_validation_failed_naming_the_field(
    client, unchanged, headers, payload, field
):
    with unchanged():
        response = client.post(f"{API}/betas", json=payload, headers=headers)
    error = assert_error(response, 422, "validation_failed")
    assert fields_of(error) == [field]
    assert field in error["message"]


def test_a_deadline_that_has_passed_is_422_on_it_when_framing_or_changing_a_draft(
    client, unchanged, headers, make_beta, pm, days
):
    make_beta(owner=pm, key="draft")
    yesterday = {"decision_deadline": iso(days(-1))}
    with unchanged():
        created = client.post(
            f"{API}/betas", json={"key": "b", "name": "B", **yesterday}, headers=headers
        )
        changed = client.patch(f"{API}/betas/draft", json=yesterday, headers=headers)
    for response in (created, changed):
        error = assert_error(response, 422, "validation_failed")
        assert fields_of(error) == ["decision_deadline"]
        assert "has passed; choose today or later." in error["message"]
    today = {"decision_deadline": iso(days(0))}
    assert client.patch(f"{API}/betas/draft", json=today, headers=headers).status_code == 200


def test_the_deadline_is_read_against_today_in_the_configured_zone(
    client, unchanged, headers, monkeypatch
):
    monkeypatch.setattr(lifecycle, "today_in", lambda _zone, _now=None: date(2030, 1, 10))
    beta = {"key": "b", "name": "B"}
    with unchanged():
        passed = client.post(
            f"{API}/betas", json={**beta, "decision_deadline": "2030-01-09"}, headers=headers
        )
    assert fields_of(assert_error(passed, 422, "validation_failed")) == ["decision_deadline"]
    today = client.post(
        f"{API}/betas", json={**beta, "decision_deadline": "2030-01-10"}, headers=headers
    )
    assert today.status_code == 201


def test_create_with_a_blank_name_is_422_on_name(client, unchanged, headers):
    with unchanged():
        response = client.post(f"{API}/betas", json={"key": "x", "name": "   "}, headers=headers)
    assert fields_of(assert_error(response, 422, "validation_failed")) == ["name"]


@pytest.mark.parametrize("field", ["state", "overdue", "metrics", "extensions"])
def test_read_only_fields_cannot_be_written(client, db, headers, field, unchanged):
    value = {"state": "running", "overdue": True, "metrics": [], "extensions": []}[field]
    with unchanged():
        response = client.post(
            f"{API}/betas", json={"key": "x", "name": "X", field: value}, headers=headers
        )
    assert fields_of(assert_error(response, 400, "unknown_field")) == [field]
    assert count(db, Beta) == 0


# Reading


def test_get_returns_the_beta_with_exactly_the_documented_fields(
    client, headers, make_beta, pm, days
):
    make_beta(
        owner=pm,
        key="inbox-reports",
        deadline=days(30),
        customer_outcome="Faster answers.",
        business_outcomes=["retention"],
    )
    response = client.get(f"{API}/betas/inbox-reports", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == BETA_FIELDS
    assert body == {
        "key": "inbox-reports",
        "name": "Inbox reports",
        "state": "draft",
        "overdue": False,
        "decision_deadline": iso(days(30)),
        "problem": "Teams cannot see how fast they answer.",
        "learning_goals": "Do teams open the new reports weekly?",
        "customer_outcome": "Faster answers.",
        "business_outcomes": ["retention"],
        "risk": "low",
        "owner": pm.email,
        "metrics": [
            {
                "id": body["metrics"][0]["id"],
                "name": "Weekly use",
                "stage": "adoption",
                "counts": "",
                "target": 40.0,
                "unit": "percent",
                "direction": "at_least",
                "rule": WEEKLY_USE_RULE,
            }
        ],
        "extensions": [],
    }


def test_a_running_beta_past_its_deadline_is_overdue(client, headers, make_beta):
    make_beta(key="late", state=BetaState.RUNNING, deadline=date.today() - timedelta(days=2))
    body = client.get(f"{API}/betas/late", headers=headers).get_json()
    assert body["state"] == "running"
    assert body["overdue"] is True


@pytest.mark.parametrize(
    ("state", "deadline"),
    [
        (BetaState.RUNNING, 0),
        (BetaState.RUNNING, 10),
        (BetaState.DRAFT, -2),
    ],
)
def test_a_beta_is_not_overdue_while_its_deadline_lasts_or_while_it_is_a_draft(
    client, headers, make_beta, state, deadline, days
):
    make_beta(key="b", state=state, deadline=days(deadline))
    assert client.get(f"{API}/betas/b", headers=headers).get_json()["overdue"] is False


def test_get_an_unknown_beta_is_404(client, headers, unchanged):
    with unchanged():
        response = client.get(f"{API}/betas/nope", headers=headers)
    error = assert_error(response, 404, "not_found")
    assert "nope" in error["message"]


# Changing


def test_patch_changes_only_the_given_fields(client, db, headers, make_beta, pm):
    make_beta(owner=pm, key="b", name="Old name")
    response = client.patch(
        f"{API}/betas/b", json={"name": "New name", "risk": "high"}, headers=headers
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == BETA_FIELDS
    assert body["name"] == "New name"
    assert body["risk"] == "high"
    assert body["problem"] == "Teams cannot see how fast they answer."
    db.expire_all()
    beta = db.scalar(select(Beta).where(Beta.key == "b"))
    assert (beta.name, str(beta.risk)) == ("New name", "high")
    assert beta.problem == "Teams cannot see how fast they answer."


def test_patch_renames_a_drafts_key(client, db, headers, make_beta, pm):
    make_beta(owner=pm, key="old-key")
    response = client.patch(f"{API}/betas/old-key", json={"key": "new-key"}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["key"] == "new-key"
    assert client.get(f"{API}/betas/new-key", headers=headers).status_code == 200
    assert client.get(f"{API}/betas/old-key", headers=headers).status_code == 404


def test_patch_to_a_taken_key_is_409_on_key(client, unchanged, headers, make_beta, pm):
    make_beta(owner=pm, key="mine")
    make_beta(key="taken")
    with unchanged():
        response = client.patch(f"{API}/betas/mine", json={"key": "taken"}, headers=headers)
    assert fields_of(assert_error(response, 409, "conflict")) == ["key"]


def test_patch_of_a_running_betas_key_is_409_and_changes_nothing(
    client, unchanged, headers, make_beta, pm
):
    make_beta(owner=pm, key="live", state=BetaState.RUNNING)
    with unchanged():
        response = client.patch(
            f"{API}/betas/live", json={"key": "renamed", "name": "Renamed too"}, headers=headers
        )
    assert fields_of(assert_error(response, 409, "conflict")) == ["key"]


def test_patch_of_a_running_betas_deadline_is_409_and_changes_nothing(
    client, unchanged, headers, make_beta, pm, days
):
    make_beta(owner=pm, key="live", state=BetaState.RUNNING, deadline=days(10))
    with unchanged():
        response = client.patch(
            f"{API}/betas/live", json={"decision_deadline": iso(days(40))}, headers=headers
        )
    assert fields_of(assert_error(response, 409, "conflict")) == ["decision_deadline"]


@pytest.mark.parametrize("field", ["problem", "learning_goals"])
def test_patch_clearing_what_a_running_beta_launched_with_is_422_on_it(
    client, unchanged, headers, make_beta, pm, field
):
    make_beta(owner=pm, key="live", state=BetaState.RUNNING)
    with unchanged():
        response = client.patch(f"{API}/betas/live", json={field: " "}, headers=headers)
    assert fields_of(assert_error(response, 422, "validation_failed")) == [field]


def test_patch_of_another_pms_beta_is_403_and_changes_nothing(
    client, unchanged, headers, make_beta, make_user
):
    make_beta(owner=make_user(Role.PM), key="theirs", name="Theirs")
    with unchanged():
        response = client.patch(f"{API}/betas/theirs", json={"name": "Mine now"}, headers=headers)
    assert_error(response, 403, "forbidden")


def test_an_admin_may_patch_another_pms_beta(client, db, bearer, make_beta, make_user):
    make_beta(owner=make_user(Role.PM), key="theirs", name="Theirs")
    admin_headers = bearer(make_user(Role.ADMIN))
    response = client.patch(f"{API}/betas/theirs", json={"name": "Fixed"}, headers=admin_headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["name"] == "Fixed"
    db.expire_all()
    assert db.scalar(select(Beta.name).where(Beta.key == "theirs")) == "Fixed"


def test_patch_hands_the_beta_to_another_owner_by_email(
    client, db, headers, make_beta, make_user, pm
):
    make_beta(owner=pm, key="b")
    other = make_user(Role.PM)
    response = client.patch(f"{API}/betas/b", json={"owner": other.email}, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["owner"] == other.email
    db.expire_all()
    assert db.scalar(select(Beta.owner_id).where(Beta.key == "b")) == other.id


def test_patch_with_an_invalid_enum_value_is_422_validation_failed(
    client, unchanged, headers, make_beta, pm
):
    make_beta(owner=pm, key="b")
    with unchanged():
        response = client.patch(f"{API}/betas/b", json={"risk": "extreme"}, headers=headers)
    assert fields_of(assert_error(response, 422, "validation_failed")) == ["risk"]


def test_patch_of_an_unknown_beta_is_404(client, unchanged, headers):
    with unchanged():
        assert_error(
            client.patch(f"{API}/betas/nope", json={"name": "X"}, headers=headers), 404, "not_found"
        )


# Deleting


def test_delete_removes_a_draft_with_204_and_audits_it_with_the_token(
    client, db, headers, make_beta, pm
):
    make_beta(owner=pm, key="b", name="B")
    response = client.delete(f"{API}/betas/b", headers=headers)
    assert response.status_code == 204 and response.get_data() == b""
    assert count(db, Beta) == 0
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "beta.deleted"))
    assert (entry.object_id, entry.beta_id, entry.details) == ("b", None, {"name": "B"})
    assert entry.token == token_of(db, headers)
    assert_error(client.get(f"{API}/betas/b", headers=headers), 404, "not_found")


@pytest.mark.parametrize("state", [BetaState.RUNNING, BetaState.DECIDED])
def test_delete_of_a_launched_beta_is_409_and_changes_nothing(
    client, unchanged, headers, make_beta, pm, state
):
    make_beta(owner=pm, key="b", state=state)
    with unchanged():
        error = assert_error(client.delete(f"{API}/betas/b", headers=headers), 409, "conflict")
    assert "cannot be deleted" in error["message"]


def test_delete_needs_the_write_scope_and_the_beta(
    client, unchanged, bearer, headers, make_beta, make_user, pm
):
    make_beta(owner=pm, key="b")
    make_beta(key="theirs")
    read_only = bearer(pm, scopes=("betas:read",))
    with unchanged():
        assert_error(client.delete(f"{API}/betas/b", headers=read_only), 403, "forbidden")
        assert_error(client.delete(f"{API}/betas/theirs", headers=headers), 403, "forbidden")
        assert_error(client.delete(f"{API}/betas/nope", headers=headers), 404, "not_found")


# Metrics


def test_add_metric_returns_201_and_stores_it(client, db, headers, make_beta, pm):
    beta = make_beta(owner=pm, key="b", framed=False)
    payload = {**METRIC, "counts": "Accounts opening a report", "direction": "at_most"}
    response = client.post(f"{API}/betas/b/metrics", json=payload, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body == {
        "id": body["id"],
        "name": "Weekly use",
        "stage": "adoption",
        "counts": "Accounts opening a report",
        "target": 40.0,
        "unit": "percent",
        "direction": "at_most",
        "rule": WEEKLY_USE_RULE,
    }
    assert count(db, SuccessMetric, SuccessMetric.beta_id == beta.id) == 1
    listed = client.get(f"{API}/betas/b", headers=headers).get_json()["metrics"]
    assert [m["id"] for m in listed] == [body["id"]]


def test_a_count_target_may_exceed_100(client, headers, make_beta, pm):
    make_beta(owner=pm, key="b")
    response = client.post(
        f"{API}/betas/b/metrics",
        json={**METRIC, "unit": "count", "target": 2500},
        headers=headers,
    )
    assert response.status_code == 201
    assert response.get_json()["target"] == 2500


def test_a_percent_target_above_100_is_422_on_target_and_adds_nothing(
    client, db, headers, make_beta, pm, unchanged
):
    beta = make_beta(owner=pm, key="b")
    metrics_before = count(db, SuccessMetric, SuccessMetric.beta_id == beta.id)
    with unchanged():
        response = client.post(
            f"{API}/betas/b/metrics", json={**METRIC, "target": 101}, headers=headers
        )
    assert fields_of(assert_error(response, 422, "validation_failed")) == ["target"]
    assert count(db, SuccessMetric, SuccessMetric.beta_id == beta.id) == metrics_before


@pytest.mark.parametrize(
    ("unit", "target", "said"),
    [
        ("percent", -5, "From 0 to 100 for a percentage."),
        ("count", -1, "From 0 to 1,000,000,000 for a count."),
        ("count", 1e30, "From 0 to 1,000,000,000 for a count."),
    ],
)
def test_a_target_out_of_range_is_told_the_range_of_its_unit(
    client, unchanged, headers, make_beta, pm, unit, target, said
):
    make_beta(owner=pm, key="b")
    with unchanged():
        response = client.post(
            f"{API}/betas/b/metrics",
            json={**METRIC, "unit": unit, "target": target},
            headers=headers,
        )
    error = assert_error(response, 422, "validation_failed")
    assert error["details"] == [{"field": "target", "message": said}]


def test_a_percent_target_of_exactly_100_is_accepted(client, headers, make_beta, pm):
    make_beta(owner=pm, key="b")
    response = client.post(
        f"{API}/betas/b/metrics", json={**METRIC, "target": 100}, headers=headers
    )
    assert response.status_code == 201
    assert response.get_json()["target"] == 100


def test_a_target_too_large_for_the_database_is_422_on_target(
    client, unchanged, headers, make_beta, pm
):
    # success_metrics.target is NUMERIC(12, 2): at most 9,999,999,999.99.
    make_beta(owner=pm, key="b")
    with unchanged():
        response = client.post(
            f"{API}/betas/b/metrics",
            json={**METRIC, "unit": "count", "target": 10_000_000_000_000},
            headers=headers,
        )
    assert "target" in fields_of(assert_error(response, 422, "validation_failed"))


def test_a_metric_reads_back_with_the_target_the_api_confirmed(client, headers, make_beta, pm):
    # success_metrics.target keeps two decimals; a finer target must be refused, not rounded
    # after the API has confirmed it.
    make_beta(owner=pm, key="b", framed=False)
    response = client.post(
        f"{API}/betas/b/metrics", json={**METRIC, "target": 12.345}, headers=headers
    )
    if response.status_code == 201:
        confirmed = response.get_json()["target"]
        stored = client.get(f"{API}/betas/b", headers=headers).get_json()["metrics"][0]["target"]
        assert stored == confirmed
    else:
        assert "target" in fields_of(assert_error(response, 422, "validation_failed"))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"target": -1}, "target"),
        ({"target": float("inf")}, "target"),
        ({"target": "forty"}, "target"),
        ({"stage": "nirvana"}, "stage"),
        ({"unit": "dollars"}, "unit"),
        ({"direction": "sideways"}, "direction"),
        ({"name": ""}, "name"),
    ],
)
def test_a_metric_with_an_invalid_value_is_422_validation_failed(
    client, unchanged, headers, make_beta, pm, change, field
):
    make_beta(owner=pm, key="b")
    with unchanged():
        response = client.post(f"{API}/betas/b/metrics", json={**METRIC, **change}, headers=headers)
    assert fields_of(assert_error(response, 422, "validation_failed")) == [field]


def test_adding_a_metric_to_another_pms_beta_is_403(
    client, unchanged, headers, make_beta, make_user
):
    make_beta(owner=make_user(Role.PM), key="theirs")
    with unchanged():
        response = client.post(f"{API}/betas/theirs/metrics", json=METRIC, headers=headers)
    assert_error(response, 403, "forbidden")


def test_adding_a_metric_to_an_unknown_beta_is_404(client, headers, unchanged):
    with unchanged():
        response = client.post(f"{API}/betas/nope/metrics", json=METRIC, headers=headers)
    assert_error(response, 404, "not_found")


# Launching


def test_launch_returns_200_with_the_beta_running(client, db, headers, make_beta, pm, days):
    make_beta(owner=pm, key="ready", deadline=days(30))
    response = client.post(f"{API}/betas/ready/launch", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == BETA_FIELDS
    assert body["state"] == "running"
    assert body["overdue"] is False
    db.expire_all()
    beta = db.scalar(select(Beta).where(Beta.key == "ready"))
    assert beta.state == BetaState.RUNNING
    assert beta.launched_at is not None


def test_launch_refused_lists_every_missing_item_and_changes_nothing(
    client, db, headers, make_beta, pm, days, unchanged
):
    make_beta(owner=pm, key="unready", framed=False, deadline=days(-1))
    with unchanged():
        response = client.post(f"{API}/betas/unready/launch", headers=headers)
    error = assert_error(response, 409, "launch_refused")
    assert fields_of(error) == ["problem", "learning_goals", "metrics", "decision_deadline"]
    assert all(detail["message"] for detail in error["details"])
    db.expire_all()
    assert db.scalar(select(Beta.state).where(Beta.key == "unready")) == BetaState.DRAFT


def test_launch_refused_lists_only_what_is_missing(client, headers, make_beta, pm, days, unchanged):
    make_beta(owner=pm, key="almost", deadline=days(10), problem="   ")
    with unchanged():
        response = client.post(f"{API}/betas/almost/launch", headers=headers)
    error = assert_error(response, 409, "launch_refused")
    assert fields_of(error) == ["problem"]


def test_launching_a_running_beta_again_is_409(client, unchanged, headers, make_beta, pm):
    make_beta(owner=pm, key="live", state=BetaState.RUNNING)
    with unchanged():
        assert_error(client.post(f"{API}/betas/live/launch", headers=headers), 409, "conflict")


def test_launching_another_pms_beta_is_403(client, unchanged, headers, make_beta, make_user):
    make_beta(owner=make_user(Role.PM), key="theirs")
    with unchanged():
        assert_error(client.post(f"{API}/betas/theirs/launch", headers=headers), 403, "forbidden")


def test_launching_an_unknown_beta_is_404(client, headers, unchanged):
    with unchanged():
        response = client.post(f"{API}/betas/nope/launch", headers=headers)
    assert_error(response, 404, "not_found")


# Extending


def test_extension_returns_201_moves_the_deadline_and_lists_it_with_its_reason(
    client, db, headers, make_beta, pm, days
):
    make_beta(owner=pm, key="live", state=BetaState.RUNNING, deadline=days(5))
    response = client.post(
        f"{API}/betas/live/extensions",
        json={"new_deadline": iso(days(19)), "reason": "  Two big accounts joined late.  "},
        headers=headers,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == BETA_FIELDS
    assert body["decision_deadline"] == iso(days(19))
    [extension] = body["extensions"]
    assert extension["old_deadline"] == iso(days(5))
    assert extension["new_deadline"] == iso(days(19))
    assert extension["reason"] == "Two big accounts joined late."
    assert extension["by"] == pm.email
    assert extension["created_at"]
    db.expire_all()
    assert db.scalar(select(Beta.decision_deadline).where(Beta.key == "live")) == days(19)
    assert count(db, DeadlineExtension) == 1


def test_an_overdue_beta_may_be_extended_from_today_on(client, headers, make_beta, pm, days):
    make_beta(owner=pm, key="late", state=BetaState.RUNNING, deadline=days(-3))
    response = client.post(
        f"{API}/betas/late/extensions",
        json={"new_deadline": iso(days(7)), "reason": "Waiting on a fix."},
        headers=headers,
    )
    assert response.status_code == 201
    assert response.get_json()["overdue"] is False


def test_extensions_past_the_limit_are_409_extension_refused(
    client, db, app, headers, make_beta, pm, days, unchanged
):
    assert app.config["SHIPCALL"].max_extensions == 2
    make_beta(owner=pm, key="live", state=BetaState.RUNNING, deadline=days(5))
    for n in (1, 2):
        response = client.post(
            f"{API}/betas/live/extensions",
            json={"new_deadline": iso(days(5 + 7 * n)), "reason": f"Reason {n}"},
            headers=headers,
        )
        assert response.status_code == 201
    with unchanged():
        response = client.post(
            f"{API}/betas/live/extensions",
            json={"new_deadline": iso(days(40)), "reason": "One more week, please."},
            headers=headers,
        )
    assert_error(response, 409, "extension_refused")
    db.expire_all()
    assert db.scalar(select(Beta.decision_deadline).where(Beta.key == "live")) == days(19)


def test_extending_a_draft_is_409_extension_refused(
    client, unchanged, headers, make_beta, pm, days
):
    make_beta(owner=pm, key="draft", deadline=days(5))
    with unchanged():
        response = client.post(
            f"{API}/betas/draft/extensions",
            json={"new_deadline": iso(days(20)), "reason": "More time."},
            headers=headers,
        )
    assert_error(response, 409, "extension_refused")


@pytest.mark.parametrize(
    ("offset", "reason", "code", "field"),
    [
        (14, None, "validation_failed", "reason"),
        (14, "", "validation_failed", "reason"),
        (14, "   ", "validation_failed", "reason"),
        (None, "More time.", "validation_failed", "new_deadline"),
        (2, "Earlier than the deadline.", "validation_failed", "new_deadline"),
        (5, "The same day.", "validation_failed", "new_deadline"),
    ],
)
def test_an_extension_without_a_reason_or_to_an_earlier_date_is_422(
    client, unchanged, headers, make_beta, pm, days, offset, reason, code, field
):
    # The beta's deadline is in five days; None leaves the field out of the body.
    make_beta(owner=pm, key="live", state=BetaState.RUNNING, deadline=days(5))
    payload = {}
    if offset is not None:
        payload["new_deadline"] = iso(days(offset))
    if reason is not None:
        payload["reason"] = reason
    with unchanged():
        response = client.post(f"{API}/betas/live/extensions", json=payload, headers=headers)
    assert fields_of(assert_error(response, 422, code)) == [field]


def test_an_extension_past_the_max_days_is_422_on_new_deadline(
    client, db, app, unchanged, headers, make_beta, pm, days
):
    assert app.config["SHIPCALL"].max_extension_days == 30
    make_beta(owner=pm, key="live", state=BetaState.RUNNING, deadline=days(5))
    with unchanged():
        response = client.post(
            f"{API}/betas/live/extensions",
            json={"new_deadline": iso(days(36)), "reason": "More time."},
            headers=headers,
        )
    error = assert_error(response, 422, "validation_failed")
    assert fields_of(error) == ["new_deadline"]
    assert "at most 30 days" in error["message"]
    response = client.post(
        f"{API}/betas/live/extensions",
        json={"new_deadline": iso(days(35)), "reason": "More time."},
        headers=headers,
    )
    assert response.status_code == 201


def test_extending_another_pms_beta_is_403(client, unchanged, headers, make_beta, make_user, days):
    make_beta(owner=make_user(Role.PM), key="theirs", state=BetaState.RUNNING, deadline=days(5))
    with unchanged():
        response = client.post(
            f"{API}/betas/theirs/extensions",
            json={"new_deadline": iso(days(20)), "reason": "More time."},
            headers=headers,
        )
    assert_error(response, 403, "forbidden")


# Malformed and oversized bodies


@pytest.mark.parametrize("body", ['{"key": "x", "name": ', "not json", "{'key': 'x'}"])
def test_malformed_json_is_400_malformed_json(client, unchanged, headers, body):
    with unchanged():
        response = client.post(
            f"{API}/betas", data=body, content_type="application/json", headers=headers
        )
    assert_error(response, 400, "malformed_json")


def test_an_unknown_field_is_400_unknown_field_naming_it(client, unchanged, headers):
    with unchanged():
        response = client.post(
            f"{API}/betas", json={"key": "x", "name": "X", "colour": "teal"}, headers=headers
        )
    error = assert_error(response, 400, "unknown_field")
    assert fields_of(error) == ["colour"]
    assert "colour" in error["message"]


@pytest.mark.parametrize(
    ("method", "path", "payload", "unknown"),
    [
        ("patch", "/betas/b", {"nmae": "Typo"}, "nmae"),
        ("post", "/betas/b/metrics", {**METRIC, "goal": 3}, "goal"),
        (
            "post",
            "/betas/b/extensions",
            {"new_deadline": "2999-01-01", "reason": "x", "by": "y"},
            "by",
        ),
    ],
)
def test_every_endpoint_refuses_unknown_fields(
    client, unchanged, headers, make_beta, pm, method, path, payload, unknown
):
    make_beta(owner=pm, key="b", state=BetaState.RUNNING)
    with unchanged():
        response = getattr(client, method)(f"{API}{path}", json=payload, headers=headers)
    error = assert_error(response, 400, "unknown_field")
    assert fields_of(error) == [unknown]


def test_a_body_over_1_mb_is_413(client, unchanged, headers):
    body = json.dumps({"key": "big", "name": "Big", "problem": "x" * MAX_REQUEST_BYTES})
    assert MAX_REQUEST_BYTES == 1024 * 1024
    with unchanged():
        response = client.post(
            f"{API}/betas", data=body, content_type="application/json", headers=headers
        )
    assert_error(response, 413, "too_large")


# Authentication and scopes


def test_a_request_without_a_token_is_401_with_a_bearer_challenge(client, unchanged):
    with unchanged():
        for response in (
            client.get(f"{API}/betas"),
            client.post(f"{API}/betas", json={"key": "x", "name": "X"}),
        ):
            assert_error(response, 401, "unauthorized")
            assert response.headers["WWW-Authenticate"] == "Bearer"


def test_authentication_comes_before_the_body_is_read(client, unchanged):
    with unchanged():
        response = client.post(f"{API}/betas", data="{bad", content_type="application/json")
    assert_error(response, 401, "unauthorized")


@pytest.mark.parametrize(
    "authorization",
    ["Bearer shc_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "shc_no-scheme"],
)
def test_a_bad_token_is_401_with_a_bearer_challenge(client, unchanged, authorization):
    with unchanged():
        response = client.post(
            f"{API}/betas", json={"key": "x", "name": "X"}, headers={"Authorization": authorization}
        )
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_revoked_token_is_401(client, db, headers, unchanged):
    assert client.get(f"{API}/betas", headers=headers).status_code == 200
    tokens.revoke_token(db, token_of(db, headers).id, None)
    db.flush()
    with unchanged():
        response = client.get(f"{API}/betas", headers=headers)
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_the_token_of_a_deactivated_user_is_401(client, db, headers, pm, unchanged):
    assert client.get(f"{API}/betas", headers=headers).status_code == 200
    pm.is_active = False
    db.flush()
    with unchanged():
        response = client.post(f"{API}/betas", json={"key": "x", "name": "X"}, headers=headers)
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_tokens_grant_is_remembered_briefly_and_forgotten_when_revoked_here(
    client, db, headers, monkeypatch, unchanged
):
    for _ in range(2):  # the first request records the use, the second remembers the grant
        assert client.get(f"{API}/betas", headers=headers).status_code == 200
    token = token_of(db, headers)
    # Revoked by another process: this one goes on trusting its grant for a moment...
    token.revoked_at = utcnow()
    db.flush()
    assert client.get(f"{API}/betas", headers=headers).status_code == 200
    # ...and no longer.
    monkeypatch.setattr(tokens, "GRANT_MEMORY_SECONDS", 0.0)
    with unchanged():
        response = client.get(f"{API}/betas", headers=headers)
    assert_error(response, 401, "unauthorized")


@pytest.mark.parametrize("how", ["revoke", "deactivate"])
def test_revoking_or_deactivating_in_this_process_holds_at_once(
    client, db, headers, pm, make_user, how, unchanged
):
    for _ in range(2):
        assert client.get(f"{API}/betas", headers=headers).status_code == 200
    if how == "revoke":
        tokens.revoke_token(db, token_of(db, headers).id, None)
    else:
        users.set_active(db, pm, False, Actor(make_user(Role.ADMIN)))
    with unchanged():
        response = client.get(f"{API}/betas", headers=headers)
    assert_error(response, 401, "unauthorized")


def test_a_read_only_token_cannot_write(client, unchanged, bearer, pm, make_beta, days):
    make_beta(owner=pm, key="b")
    read_only = bearer(pm, scopes=("betas:read",))
    with unchanged():
        for response in (
            client.post(f"{API}/betas", json={"key": "x", "name": "X"}, headers=read_only),
            client.patch(f"{API}/betas/b", json={"name": "Y"}, headers=read_only),
            client.post(f"{API}/betas/b/metrics", json=METRIC, headers=read_only),
            client.post(f"{API}/betas/b/launch", headers=read_only),
            client.post(
                f"{API}/betas/b/extensions",
                json={"new_deadline": iso(days(60)), "reason": "x"},
                headers=read_only,
            ),
        ):
            error = assert_error(response, 403, "forbidden")
            assert "betas:write" in error["message"]


def test_a_write_only_token_cannot_read(client, bearer, make_beta, unchanged):
    make_beta(key="b")
    write_only = bearer(scopes=("betas:write",))
    with unchanged():
        assert_error(client.get(f"{API}/betas", headers=write_only), 403, "forbidden")
        assert_error(client.get(f"{API}/betas/b", headers=write_only), 403, "forbidden")


def test_a_token_without_beta_scopes_is_403(client, bearer, unchanged):
    other = bearer(scopes=("members:read", "members:write", "data:write"))
    with unchanged():
        assert_error(client.get(f"{API}/betas", headers=other), 403, "forbidden")


def test_the_api_ignores_a_signed_in_browser_session(client, login, pm, unchanged):
    login(pm)
    with unchanged():
        response = client.get(f"{API}/betas")
    assert_error(response, 401, "unauthorized")


# Token use


def test_a_request_records_when_its_token_was_last_used(client, db, headers):
    token = token_of(db, headers)
    assert token.last_used_at is None
    response = client.post(f"{API}/betas", json={"key": "x", "name": "X"}, headers=headers)
    assert response.status_code == 201
    db.expire_all()
    assert db.get(ApiToken, token.id).last_used_at is not None


def test_a_read_request_records_token_use_in_its_own_transaction(scratch_database_url):
    # Read requests record the use through a second session, which the rolled-back test
    # transaction would undo; a real database shows it.
    command.upgrade(alembic_config(scratch_database_url), "head")
    app = make_app(scratch_database_url)
    database = app.extensions["shipcall.db"]
    try:
        with database.session() as session:
            user = users.create_user(session, "reader@example.com", "long enough password", Role.PM)
            token, secret = tokens.create_token(session, "t", ["betas:read"], user, Actor(user))
            session.commit()
            token_id = token.id
        response = app.test_client().get(
            f"{API}/betas", headers={"Authorization": f"Bearer {secret}"}
        )
        assert response.status_code == 200
        with database.session(write=False) as session:
            token = session.get(ApiToken, token_id)
            assert token.last_used_at is not None
            assert session.scalar(select(func.count()).select_from(User)) == 1
    finally:
        database.engine.dispose()


# Audit


def test_every_change_through_the_api_is_audited_with_its_token(client, db, headers, pm, days):
    token = token_of(db, headers)
    calls = [
        ("post", "/betas", {"key": "audited", "name": "Audited"}),
        (
            "patch",
            "/betas/audited",
            {
                "problem": "A problem.",
                "learning_goals": "A goal.",
                "decision_deadline": iso(days(10)),
            },
        ),
        ("post", "/betas/audited/metrics", METRIC),
        ("post", "/betas/audited/launch", None),
        (
            "post",
            "/betas/audited/extensions",
            {"new_deadline": iso(days(20)), "reason": "More time."},
        ),
    ]
    for method, path, payload in calls:
        response = getattr(client, method)(f"{API}{path}", json=payload, headers=headers)
        assert response.status_code in (200, 201), (path, response.get_data(as_text=True))
    db.expire_all()
    beta = db.scalar(select(Beta).where(Beta.key == "audited"))
    entries = db.scalars(
        select(AuditEntry).where(AuditEntry.beta_id == beta.id).order_by(AuditEntry.id)
    ).all()
    assert [e.action for e in entries] == [
        "beta.created",
        "beta.updated",
        "metric.added",
        "beta.launched",
        "beta.extended",
    ]
    assert all(e.token_id == token.id for e in entries)
    assert all(e.user_id == pm.id for e in entries)
    updated = entries[1].details["changes"]
    assert set(updated) == {"problem", "learning_goals", "decision_deadline"}
    assert entries[4].details["reason"] == "More time."


def test_a_patch_that_changes_nothing_writes_no_audit_entry(client, db, headers, make_beta, pm):
    make_beta(owner=pm, key="b", name="Same")
    before = count(db, AuditEntry)
    response = client.patch(f"{API}/betas/b", json={"name": "Same"}, headers=headers)
    assert response.status_code == 200
    assert count(db, AuditEntry) == before


# Routing and the OpenAPI document


def test_unknown_api_paths_and_methods_answer_in_the_error_shape(
    client, headers, make_beta, unchanged
):
    make_beta(key="b")
    with unchanged():
        assert_error(client.get(f"{API}/nothing", headers=headers), 404, "not_found")
        assert_error(client.put(f"{API}/betas/b", headers=headers), 405, "method_not_allowed")


def test_the_openapi_document_is_public_and_lists_every_path(client):
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Shipcall"
    assert set(document["paths"]) >= {
        f"{API}/betas",
        f"{API}/betas/{{key}}",
        f"{API}/betas/{{key}}/metrics",
        f"{API}/betas/{{key}}/launch",
        f"{API}/betas/{{key}}/extensions",
    }
    assert set(document["paths"][f"{API}/betas"]) >= {"get", "post"}
    assert set(document["paths"][f"{API}/betas/{{key}}"]) >= {"get", "patch", "delete"}
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
