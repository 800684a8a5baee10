"""A metric's rule over events: checked on every door, said in words, changed and audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from betas import lifecycle, metrics
from betas.audit import Actor, describe
from betas.errors import Invalid, LaunchRefused
from betas.metric_rules import check_rule, describe_rule
from betas.models import AuditEntry, BetaState, MetricStage, MetricUnit, Role, SuccessMetric
from tests.helpers import WEEKLY_USE_RULE, assert_error, fields_of

API = "/api/v1"
RULE = {
    "events": [
        {"action": " Opened ", "object": "REPORT"},
        {"action": "viewed", "object": "chart", "place": "Inbox"},
    ],
    "at_least": 3,
    "per": "day",
    "window_days": None,
}


def test_a_rule_is_kept_trimmed_and_lower_cased_with_an_absent_place_left_out():
    assert check_rule(RULE) == {
        "events": [
            {"action": "opened", "object": "report"},
            {"action": "viewed", "object": "chart", "place": "inbox"},
        ],
        "at_least": 3,
        "per": "day",
        "window_days": None,
    }
    assert check_rule(None) is None


def test_a_rule_reads_in_words():
    assert describe_rule({**WEEKLY_USE_RULE, "at_least": 2}) == (
        "at least 2 events of opened report (any place) in the last 7 days"
    )
    assert describe_rule(check_rule(RULE)) == (
        "at least opened report (any place) or viewed chart (at inbox) on 3 days since joining"
    )
    assert describe_rule(None) == "not instrumented"


@pytest.mark.parametrize(
    ("rule", "fields"),
    [
        ("weekly", ["rule"]),
        ({**WEEKLY_USE_RULE, "events": []}, ["rule.events"]),
        ({**WEEKLY_USE_RULE, "events": [{"action": "x", "object": "y"}] * 11}, ["rule.events"]),
        ({**WEEKLY_USE_RULE, "events": [{"action": " ", "object": "y"}]}, ["rule.events.0.action"]),
        (
            {**WEEKLY_USE_RULE, "events": [{"action": "a", "object": "b"}, {"action": "a"}]},
            ["rule.events.1.object"],
        ),
        (
            {**WEEKLY_USE_RULE, "events": [{"action": "a" * 65, "object": "b"}]},
            ["rule.events.0.action"],
        ),
        (
            {**WEEKLY_USE_RULE, "events": [{"action": "a", "object": "b", "at": "c"}]},
            ["rule.events.0"],
        ),
        ({**WEEKLY_USE_RULE, "at_least": 0}, ["rule.at_least"]),
        ({**WEEKLY_USE_RULE, "at_least": 1_000_001}, ["rule.at_least"]),
        ({**WEEKLY_USE_RULE, "at_least": "2"}, ["rule.at_least"]),
        ({**WEEKLY_USE_RULE, "at_least": True}, ["rule.at_least"]),
        ({**WEEKLY_USE_RULE, "per": "week"}, ["rule.per"]),
        ({**WEEKLY_USE_RULE, "window_days": 30}, ["rule.window_days"]),
        ({**WEEKLY_USE_RULE, "window": 7}, ["rule.window"]),
    ],
)
def test_a_bad_rule_is_refused_on_its_field_through_the_api_and_nothing_is_stored(
    client, bearer, make_beta, rule, fields, unchanged
):
    beta = make_beta(framed=False)
    headers = bearer(beta.owner)
    body = {"name": "Weekly use", "stage": "adoption", "target": 40, "unit": "percent"}
    with unchanged():
        response = client.post(
            f"{API}/betas/{beta.key}/metrics", json={**body, "rule": rule}, headers=headers
        )
    assert fields_of(assert_error(response, 422, "validation_failed")) == fields


def test_patch_changes_a_metric_and_the_audit_says_what_changed(client, db, bearer, make_beta):
    beta = make_beta()
    metric = beta.metrics[0]
    response = client.patch(
        f"{API}/betas/{beta.key}/metrics/{metric.id}",
        json={"target": 50, "rule": RULE},
        headers=bearer(beta.owner),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["target"], body["name"], body["rule"]) == (50.0, "Weekly use", check_rule(RULE))
    db.refresh(metric)
    assert metric.rule == check_rule(RULE)
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "metric.updated"))
    assert "changed the target from at least 40% of enrolled accounts to at least 50%" in (
        describe(entry)
    )
    assert "to at least opened report (any place) or viewed chart" in describe(entry)


def test_patch_refuses_a_bad_rule_and_keeps_the_metric(client, bearer, make_beta, unchanged):
    beta = make_beta()
    headers = bearer(beta.owner)
    with unchanged():
        response = client.patch(
            f"{API}/betas/{beta.key}/metrics/{beta.metrics[0].id}",
            json={"target": 50, "rule": {**WEEKLY_USE_RULE, "per": "hour"}},
            headers=headers,
        )
    assert fields_of(assert_error(response, 422, "validation_failed")) == ["rule.per"]


def test_patch_an_unknown_metric_is_404(client, bearer, make_beta, unchanged):
    beta = make_beta()
    headers = bearer(beta.owner)
    with unchanged():
        response = client.patch(
            f"{API}/betas/{beta.key}/metrics/999", json={"target": 5}, headers=headers
        )
    assert_error(response, 404, "not_found")


def test_patch_by_another_pm_is_forbidden(client, bearer, make_beta, make_user, unchanged):
    beta = make_beta()
    headers = bearer(make_user(Role.PM))
    with unchanged():
        response = client.patch(
            f"{API}/betas/{beta.key}/metrics/{beta.metrics[0].id}",
            json={"target": 5},
            headers=headers,
        )
    assert_error(response, 403, "forbidden")


def test_a_running_beta_s_rule_may_change_but_a_decided_one_s_may_not(db, make_beta):
    running = make_beta(state=BetaState.RUNNING)
    actor = Actor(running.owner)
    metrics.update_metric(db, actor, running, running.metrics[0].id, rule=RULE)
    assert running.metrics[0].rule == check_rule(RULE)
    decided = make_beta(state=BetaState.DECIDED)
    with pytest.raises(lifecycle.Conflict):
        metrics.update_metric(db, Actor(decided.owner), decided, decided.metrics[0].id, rule=RULE)


def test_launch_is_refused_naming_each_metric_without_a_rule(db, make_beta, client, bearer):
    beta = make_beta()
    beta.metrics.append(
        SuccessMetric(
            name="Daily use", stage=MetricStage.ENGAGEMENT, target=10, unit=MetricUnit.COUNT
        )
    )
    db.flush()
    with pytest.raises(LaunchRefused) as refused:
        lifecycle.launch(db, Actor(beta.owner), beta, lifecycle.today_in(lifecycle.ZoneInfo("UTC")))
    assert refused.value.details == [
        {
            "field": "metrics",
            "message": "The metric 'Daily use' is not instrumented: give it a rule.",
        }
    ]
    response = client.post(f"{API}/betas/{beta.key}/launch", headers=bearer(beta.owner))
    assert (
        "'Daily use' is not instrumented"
        in assert_error(response, 409, "launch_refused")["message"]
    )


def test_the_lifecycle_refuses_a_bad_rule_whichever_door_calls_it(db, make_beta):
    beta = make_beta(framed=False)
    with pytest.raises(Invalid) as refused:
        metrics.add_metric(
            db,
            Actor(beta.owner),
            beta,
            name="Use",
            stage="adoption",
            target=10,
            unit="count",
            rule={**WEEKLY_USE_RULE, "events": [{"object": "report"}]},
        )
    assert fields_of_error(refused.value) == ["rule.events.0.action"]
    assert beta.metrics == []


def fields_of_error(error: Invalid) -> list[str]:
    return [detail["field"] for detail in error.details]


# The pages


METRIC_FORM = {
    "name": "Weekly use",
    "stage": "adoption",
    "target": "40",
    "unit": "percent",
    "direction": "at_least",
    "counts": "",
    "at_least": "1",
    "per": "event",
    "window_days": "7",
}


def test_a_metric_without_a_rule_reads_as_not_instrumented(client, db, make_beta, login):
    beta = make_beta()
    beta.metrics[0].rule = None
    db.flush()
    login(beta.owner)
    html = client.get(f"/betas/{beta.key}").get_data(as_text=True)
    assert "not instrumented" in html
    assert "The metric &#39;Weekly use&#39; is not instrumented: give it a rule." in html


def test_a_bad_rule_in_the_form_sits_on_its_field_and_nothing_is_saved(
    client, make_beta, login, post, unchanged
):
    beta = make_beta(framed=False)
    login(beta.owner)
    with unchanged():
        response = post(
            f"/betas/{beta.key}/metrics/new", {**METRIC_FORM, "action_1": "opened", "object_1": ""}
        )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="object_1-error">Required' in html
    assert 'value="opened"' in html


def test_the_edit_page_shows_the_rule_and_saves_a_new_one_with_an_audit_line(
    client, db, make_beta, login, post
):
    beta = make_beta(state=BetaState.RUNNING)
    metric = beta.metrics[0]
    login(beta.owner)
    page = client.get(f"/betas/{beta.key}/metrics/{metric.id}/edit")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="metric-form"' in html and 'name="action_0" type="text" value="opened"' in html
    response = post(
        f"/betas/{beta.key}/metrics/{metric.id}/edit",
        {
            **METRIC_FORM,
            "action_0": "opened",
            "object_0": "report",
            "place_0": "Inbox",
            "per": "day",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/betas/{beta.key}#metrics")
    db.refresh(metric)
    assert metric.rule == {
        "events": [{"action": "opened", "object": "report", "place": "inbox"}],
        "at_least": 1,
        "per": "day",
        "window_days": 7,
    }
    html = client.get(f"/betas/{beta.key}").get_data(as_text=True)
    assert "at least opened report (at inbox) on 1 day in the last 7 days" in html
    assert "changed the metric" in html


def test_a_failed_edit_keeps_what_was_typed(client, make_beta, login, post, unchanged):
    beta = make_beta()
    login(beta.owner)
    url = f"/betas/{beta.key}/metrics/{beta.metrics[0].id}/edit"
    with unchanged():
        response = post(
            url, {**METRIC_FORM, "action_0": "opened", "object_0": "r", "at_least": "0"}
        )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "error-summary" in html and 'id="at_least-error"' in html


def test_only_the_owner_or_an_admin_edits_a_metric(client, make_beta, make_user, login, post):
    beta = make_beta()
    login(make_user(Role.PM))
    assert client.get(f"/betas/{beta.key}/metrics/{beta.metrics[0].id}/edit").status_code == 403
    assert client.get(f"/betas/{beta.key}/metrics/999/edit").status_code == 403


def test_a_running_beta_s_rule_may_change_but_not_be_cleared(client, bearer, make_beta, unchanged):
    beta = make_beta(state=BetaState.RUNNING)
    headers = bearer(beta.owner)
    with unchanged():
        response = client.patch(
            f"{API}/betas/{beta.key}/metrics/{beta.metrics[0].id}",
            json={"rule": None},
            headers=headers,
        )
    assert fields_of(assert_error(response, 422, "validation_failed")) == ["rule"]
