"""Beta pages: framing, field errors that keep what was typed, metrics, launch, overdue, history."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from betas import lifecycle
from betas.models import AuditEntry, Beta, BetaState, Role


def frame(**overrides):
    return {
        "key": "inbox-reports",
        "name": "Inbox reports",
        "problem": "Teams cannot see how fast they answer.",
        "learning_goals": "Do teams open the new reports weekly?",
        "customer_outcome": "Leads check response times every Monday.",
        "business_outcomes": ["retention", "expansion"],
        "risk": "high",
        "decision_deadline": (date.today() + timedelta(days=30)).isoformat(),
        **overrides,
    }


def count(db, model):
    return db.scalar(select(func.count()).select_from(model))


def test_a_pm_frames_a_beta_in_the_browser(db, client, make_user, login, post):
    pm = login(make_user(Role.PM))
    response = post("/betas/new", {**frame(), "owner": pm.id})
    assert response.status_code == 302
    assert response.headers["Location"] == "/betas/inbox-reports"
    beta = db.scalar(select(Beta))
    assert (beta.owner, beta.risk.value) == (pm, "high")
    assert beta.business_outcomes == ["expansion", "retention"]
    html = client.get("/betas/inbox-reports").get_data(as_text=True)
    assert "Teams cannot see how fast they answer." in html
    assert "Add at least one success metric with a target." in html
    assert f"{pm.display_name} framed the beta “Inbox reports” as a draft" in html


def test_the_form_explains_both_risks(client, make_user, login):
    login(make_user(Role.PM))
    html = client.get("/betas/new").get_data(as_text=True)
    assert "opt accounts in and notify them" in html
    assert "invite accounts and wait for them to accept" in html
    assert "What do we want to learn as early as possible?" in html


def test_field_errors_sit_next_to_the_field_and_keep_what_was_typed(
    db, client, make_user, login, post, unchanged
):
    pm = login(make_user(Role.PM))
    with unchanged():
        response = post("/betas/new", {**frame(key="Not A Slug"), "owner": pm.id})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="key-error">Use lower-case letters, digits and hyphens.' in html
    assert "Teams cannot see how fast they answer." in html
    assert 'value="Not A Slug"' in html
    assert count(db, Beta) == 0


def test_a_taken_key_is_shown_on_the_key_field(
    db, client, make_user, make_beta, login, post, unchanged
):
    make_beta(key="inbox-reports")
    pm = login(make_user(Role.PM))
    with unchanged():
        html = post("/betas/new", {**frame(), "owner": pm.id}).get_data(as_text=True)
    assert 'id="key-error">This key is taken; choose another.' in html
    assert count(db, Beta) == 1


def test_a_deadline_that_has_passed_is_refused_on_its_field(
    app, db, make_user, make_beta, login, post, unchanged
):
    today = lifecycle.today_in(app.config["SHIPCALL"].zone)
    yesterday = (today - timedelta(days=1)).isoformat()
    passed = f'id="decision_deadline-error">The decision deadline {yesterday} has passed; '
    pm = login(make_user(Role.PM))
    with unchanged():
        response = post("/betas/new", {**frame(decision_deadline=yesterday), "owner": pm.id})
    assert passed + "choose today or later." in response.get_data(as_text=True)
    draft = make_beta(owner=pm)
    data = {**frame(key=draft.key, decision_deadline=yesterday), "owner": pm.id}
    with unchanged():
        response = post(f"/betas/{draft.key}/edit", data)
    assert passed + "choose today or later." in response.get_data(as_text=True)
    data = {**frame(decision_deadline=today.isoformat()), "owner": pm.id}
    assert post("/betas/new", data).status_code == 302


def test_the_deadline_is_read_against_today_in_the_configured_zone(
    make_user, login, post, monkeypatch, unchanged
):
    # Far from the server's own date: the page must ask the configured zone for today.
    monkeypatch.setattr(lifecycle, "today_in", lambda _zone, _now=None: date(2030, 1, 10))
    pm = login(make_user(Role.PM))
    with unchanged():
        response = post("/betas/new", {**frame(decision_deadline="2030-01-09"), "owner": pm.id})
    assert "The decision deadline 2030-01-09 has passed" in response.get_data(as_text=True)
    data = {**frame(decision_deadline="2030-01-10"), "owner": pm.id}
    assert post("/betas/new", data).status_code == 302


def test_a_viewer_posting_to_a_pm_page_gets_403(
    db, client, make_user, make_beta, login, post, unchanged
):
    beta = make_beta()
    login(make_user(Role.VIEWER))
    with unchanged():
        assert client.get("/betas/new").status_code == 403
        assert post("/betas/new", frame(key="viewer-beta")).status_code == 403
        assert post(f"/betas/{beta.key}/launch").status_code == 403
        assert post(f"/betas/{beta.key}/delete", {"confirm_key": beta.key}).status_code == 403
    assert client.get(f"/betas/{beta.key}").status_code == 200
    assert count(db, Beta) == 1


def test_a_pm_cannot_change_another_pms_beta(client, make_user, make_beta, login, post, unchanged):
    beta = make_beta()
    login(make_user(Role.PM))
    with unchanged():
        assert client.get(f"/betas/{beta.key}/edit").status_code == 403
        assert post(f"/betas/{beta.key}/metrics/new", {"name": "x"}).status_code == 403
        assert client.get(f"/betas/{beta.key}/delete").status_code == 403
        assert post(f"/betas/{beta.key}/delete", {"confirm_key": beta.key}).status_code == 403


def test_an_admin_edits_any_beta(db, client, make_user, make_beta, login, post):
    beta = make_beta(name="Before")
    login(make_user(Role.ADMIN))
    data = frame(key=beta.key, name="After")
    response = post(f"/betas/{beta.key}/edit", {**data, "owner": beta.owner_id})
    assert response.status_code == 302
    db.refresh(beta)
    assert beta.name == "After"


def test_a_running_beta_keeps_its_key_and_deadline_whatever_is_posted(db, make_beta, login, post):
    beta = make_beta(state=BetaState.RUNNING)
    deadline = beta.decision_deadline
    login(beta.owner)
    data = frame(key="sneaky", name="Renamed", decision_deadline="2099-01-01")
    assert post(f"/betas/{beta.key}/edit", {**data, "owner": beta.owner_id}).status_code == 302
    db.refresh(beta)
    assert (beta.key, beta.decision_deadline, beta.name) != ("sneaky", date(2099, 1, 1), "x")
    assert (beta.key, beta.decision_deadline, beta.name) == (beta.key, deadline, "Renamed")


def test_a_running_betas_problem_cannot_be_cleared_on_its_page(
    db, make_beta, login, post, unchanged
):
    beta = make_beta(state=BetaState.RUNNING)
    login(beta.owner)
    data = frame(key=beta.key, problem="", learning_goals="Still asking.")
    with unchanged():
        response = post(f"/betas/{beta.key}/edit", {**data, "owner": beta.owner_id})
    html = response.get_data(as_text=True)
    assert 'id="problem-error">Required since launch: reword it, but keep it.' in html
    assert "Still asking." in html
    db.refresh(beta)
    assert beta.problem == "Teams cannot see how fast they answer."


def test_add_a_metric_then_launch(db, client, make_beta, login, post):
    beta = make_beta(framed=False, problem="A problem", learning_goals="A goal")
    login(beta.owner)
    metric = {
        "name": "Weekly use",
        "stage": "adoption",
        "target": "40",
        "unit": "percent",
        "direction": "at_least",
        "counts": "opened the report twice",
        "action_0": "Opened",
        "object_0": "report ",
        "at_least": "2",
        "per": "event",
        "window_days": "7",
    }
    assert post(f"/betas/{beta.key}/metrics/new", metric).status_code == 302
    html = client.get(f"/betas/{beta.key}").get_data(as_text=True)
    assert "at least 40% of enrolled accounts" in html
    assert "at least 2 events of opened report (any place) in the last 7 days" in html
    assert post(f"/betas/{beta.key}/launch").status_code == 302
    db.refresh(beta)
    assert beta.state == BetaState.RUNNING


def test_a_bad_metric_keeps_what_was_typed(db, client, make_beta, login, post, unchanged):
    beta = make_beta(framed=False)
    login(beta.owner)
    metric = {
        "name": "Weekly use",
        "stage": "adoption",
        "target": "140",
        "unit": "percent",
        "direction": "at_least",
        "counts": "opened it twice",
    }
    with unchanged():
        response = post(f"/betas/{beta.key}/metrics/new", metric)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="target-error">From 0 to 100 for a percentage.' in html
    assert 'value="Weekly use"' in html and "opened it twice" in html
    db.refresh(beta)
    assert beta.metrics == []


@pytest.mark.parametrize(
    ("target", "unit", "said"),
    [
        ("-5", "percent", "From 0 to 100 for a percentage."),
        ("100.01", "percent", "From 0 to 100 for a percentage."),
        ("-1", "count", "From 0 to 1,000,000,000 for a count."),
        ("1000000001", "count", "From 0 to 1,000,000,000 for a count."),
        ("NaN", "count", "From 0 to 1,000,000,000 for a count."),
    ],
)
def test_a_target_out_of_range_is_told_the_range_of_its_unit(
    make_beta, login, post, unchanged, target, unit, said
):
    beta = make_beta()
    login(beta.owner)
    metric = {"name": "Use", "stage": "adoption", "target": target, "unit": unit}
    with unchanged():
        response = post(f"/betas/{beta.key}/metrics/new", {**metric, "direction": "at_least"})
    assert response.status_code == 422
    assert f'id="target-error">{said}</p>' in response.get_data(as_text=True)


def test_a_refused_launch_lists_everything_missing(db, client, make_beta, login, post, unchanged):
    beta = make_beta(framed=False, deadline=date.today() - timedelta(days=1))
    login(beta.owner)
    with unchanged():
        html = post(f"/betas/{beta.key}/launch", follow_redirects=True).get_data(as_text=True)
    for missing in [
        "Describe the problem",
        "Say what you want to learn",
        "Add at least one",
        "has passed",
    ]:
        assert missing in html
    db.refresh(beta)
    assert beta.state == BetaState.DRAFT


def test_every_page_of_an_overdue_beta_shows_the_banner(client, make_beta, login):
    beta = make_beta(state=BetaState.RUNNING, deadline=date.today() - timedelta(days=2))
    login(beta.owner)
    for path in [f"/betas/{beta.key}", f"/betas/{beta.key}/edit"]:
        assert "Overdue:" in client.get(path).get_data(as_text=True), path
    assert "overdue by 2 days" in client.get("/").get_data(as_text=True)


def test_a_beta_on_time_shows_no_banner(client, make_beta, login):
    beta = make_beta(state=BetaState.RUNNING, deadline=date.today())
    login(beta.owner)
    assert "Overdue:" not in client.get(f"/betas/{beta.key}").get_data(as_text=True)


def test_an_extension_ends_overdue_and_shows_its_reason(db, client, make_beta, login, post):
    beta = make_beta(state=BetaState.RUNNING, deadline=date.today() - timedelta(days=2))
    login(beta.owner)
    new = (date.today() + timedelta(days=10)).isoformat()
    response = post(
        f"/betas/{beta.key}/extensions", {"new_deadline": new, "reason": "Two calls left"}
    )
    assert response.status_code == 302
    html = client.get(f"/betas/{beta.key}").get_data(as_text=True)
    assert "Overdue:" not in html and "Two calls left" in html


def test_an_extension_without_a_reason_keeps_the_date(
    db, client, make_beta, login, post, unchanged
):
    beta = make_beta(state=BetaState.RUNNING)
    login(beta.owner)
    new = (date.today() + timedelta(days=40)).isoformat()
    with unchanged():
        response = post(f"/betas/{beta.key}/extensions", {"new_deadline": new, "reason": ""})
    assert response.status_code == 422
    assert f'value="{new}"' in response.get_data(as_text=True)
    db.refresh(beta)
    assert beta.extensions == []


def test_an_extension_past_the_max_days_is_a_field_error_that_keeps_what_was_typed(
    db, client, make_beta, login, post, unchanged
):
    beta = make_beta(state=BetaState.RUNNING, deadline=date.today() + timedelta(days=3))
    login(beta.owner)
    new = (date.today() + timedelta(days=34)).isoformat()
    with unchanged():
        response = post(
            f"/betas/{beta.key}/extensions", {"new_deadline": new, "reason": "Two calls left"}
        )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'value="{new}"' in html and "Two calls left</textarea>" in html
    assert f"at most 30 days past {beta.decision_deadline}." in html
    latest = date.today() + timedelta(days=33)
    assert f"At most 30 days past {beta.decision_deadline}: {latest} or earlier." in html


def test_the_history_names_who_did_what(db, client, make_user, login, post):
    pm = login(make_user(Role.PM))
    post("/betas/new", {**frame(), "owner": pm.id})
    post(
        "/betas/inbox-reports/metrics/new",
        {
            "name": "Use",
            "stage": "adoption",
            "target": "10",
            "unit": "percent",
            "direction": "at_least",
        },
    )
    actions = db.scalars(
        select(AuditEntry.action).where(AuditEntry.beta_id.is_not(None)).order_by(AuditEntry.id)
    ).all()
    assert actions == ["beta.created", "metric.added"]
    html = client.get("/betas/inbox-reports").get_data(as_text=True)
    assert html.count(pm.display_name) >= 2


def test_a_failed_form_opens_with_a_summary_linking_to_its_fields(
    client, make_beta, login, post, unchanged
):
    beta = make_beta(framed=False)
    login(beta.owner)
    with unchanged():
        response = post(
            f"/betas/{beta.key}/metrics/new",
            {
                "name": "",
                "stage": "adoption",
                "target": "-5",
                "unit": "percent",
                "direction": "at_least",
            },
        )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    summary = html[html.index('class="error-summary"') :]
    summary = summary[: summary.index("</div>")]
    assert "Fix 2 problems" in summary
    assert 'href="#name"' in summary and 'href="#target"' in summary
    # The form's action ends in its id, so the browser brings the failed form into view.
    assert f'action="/betas/{beta.key}/metrics/new#metric-form"' in html


def test_a_forms_post_url_opened_again_lands_on_its_page(client, make_beta, login):
    beta = make_beta(state=BetaState.RUNNING)
    login(beta.owner)
    for path, anchor in [("metrics/new", "metrics"), ("extensions", "deadline")]:
        response = client.get(f"/betas/{beta.key}/{path}")
        assert response.status_code == 302
        assert response.headers["Location"] == f"/betas/{beta.key}#{anchor}"


def test_a_draft_is_deleted_once_its_key_is_typed(db, client, make_beta, login, post, unchanged):
    beta = make_beta(key="old-idea", name="Old idea")
    login(beta.owner)
    assert 'href="/betas/old-idea/delete">Delete draft</a>' in client.get(
        "/betas/old-idea"
    ).get_data(as_text=True)
    page = client.get("/betas/old-idea/delete").get_data(as_text=True)
    assert '<form method="post" novalidate class="stacked" id="delete-form">' in page
    assert "Type the key old-idea to confirm" in page
    for typed, said in [("", "Type the key to confirm."), ("old", "This is not the key")]:
        with unchanged():
            response = post("/betas/old-idea/delete", {"confirm_key": typed})
        html = response.get_data(as_text=True)
        assert response.status_code == 422
        assert 'class="error-summary"' in html and f'id="confirm_key-error">{said}' in html
    response = post("/betas/old-idea/delete", {"confirm_key": "old-idea"})
    assert (response.status_code, response.headers["Location"]) == (302, "/")
    assert "The draft Old idea is deleted." in client.get("/").get_data(as_text=True)
    assert count(db, Beta) == 0
    assert db.scalar(select(AuditEntry.action).where(AuditEntry.object_id == "old-idea")) == (
        "beta.deleted"
    )


def test_a_running_beta_cannot_be_deleted_and_says_why(
    db, client, make_beta, login, post, unchanged
):
    beta = make_beta(key="live", name="Live", state=BetaState.RUNNING)
    login(beta.owner)
    assert "Delete draft" not in client.get("/betas/live").get_data(as_text=True)
    reason = "Live is running: a launched beta is part of the record, so it cannot be deleted."
    page = client.get("/betas/live/delete").get_data(as_text=True)
    assert reason in page and "delete-form" not in page
    with unchanged():
        response = post("/betas/live/delete", {"confirm_key": "live"})
    assert response.status_code == 409
    assert reason in response.get_data(as_text=True)
    assert count(db, Beta) == 1
