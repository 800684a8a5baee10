"""Outcome checkpoints after a ship: listed when due, re-measured, reported once."""

from datetime import UTC, date, timedelta

from betas import decisions
from betas.audit import Actor
from betas.config import DEFAULT_FEEDBACK_TYPES
from betas.models import Checkpoint, Role
from shipcall import review
from usage import value_store
from usage.models import ValuesMark

ANSWERS = {"solved": "Yes.", "replaces_existing": "The CSV export.", "marketing": "No."}
REPORT = {
    "solved": "Most teams answer faster.",
    "outcomes": "Retention is up two points.",
    "actions-0-what": "Write the help article",
    "actions-0-owner": "Kim",
    "actions-0-due_on": "2027-01-15",
}


def shipped(db, beta, days_ago=40):
    decision = decisions.decide(
        db,
        Actor(beta.owner),
        beta,
        outcome="ship",
        rationale="They use it.",
        answers=ANSWERS,
        snapshot=review.snapshot(
            review.gather(db, beta, date.today(), UTC, DEFAULT_FEEDBACK_TYPES)
        ),
        today=date.today() - timedelta(days=days_ago),
    )
    db.flush()
    return decision


def test_a_due_checkpoint_is_listed_on_the_dashboard_until_reported(
    db, client, login, post, measured
):
    beta = measured()
    decision = shipped(db, beta)
    month, *later = decision.checkpoints
    login(beta.owner)
    dashboard = client.get("/").get_data(as_text=True)
    assert f"/betas/{beta.key}/checkpoints/{month.id}" in dashboard
    assert all(f"/checkpoints/{c.id}" not in dashboard for c in later)  # not due yet
    response = post(f"/betas/{beta.key}/checkpoints/{month.id}", REPORT)
    assert response.status_code == 302 and response.headers["Location"].endswith("#report")
    assert f"/checkpoints/{month.id}" not in client.get("/").get_data(as_text=True)


def test_the_checkpoint_page_re_measures_beside_the_decision_and_keeps_the_report(
    db, client, login, post, measured
):
    beta = measured(size=3, using=2)
    month = shipped(db, beta).checkpoints[0]
    login(beta.owner)
    page = client.get(f"/betas/{beta.key}/checkpoints/{month.id}").get_data(as_text=True)
    assert "At the decision" in page and "66.67%" in page
    assert 'id="checkpoint-form"' in page
    post(f"/betas/{beta.key}/checkpoints/{month.id}", REPORT)
    db.expire_all()
    reported = db.get(Checkpoint, month.id)
    assert reported.actions == [
        {"what": "Write the help article", "owner": "Kim", "due_on": "2027-01-15"}
    ]
    assert reported.measured[0]["series"][-1]["at_decision"] == 66.67
    page = client.get(f"/betas/{beta.key}/checkpoints/{month.id}").get_data(as_text=True)
    assert "Retention is up two points." in page and "Write the help article" in page


def test_the_checkpoint_page_stores_the_values_it_re_measures(db, client, login, measured):
    beta = measured(size=3, using=2)
    month = shipped(db, beta).checkpoints[0]
    value_store.forget_all(db)
    db.flush()
    login(beta.owner)
    assert client.get(f"/betas/{beta.key}/checkpoints/{month.id}").status_code == 200
    db.expire_all()
    assert db.get(ValuesMark, beta.id) is not None  # the next view reads them back


def test_a_report_is_refused_before_it_is_due_twice_or_by_others_and_stores_nothing(
    db, client, login, post, measured, make_user, unchanged
):
    beta = measured()
    month, quarter, *_ = shipped(db, beta).checkpoints
    login(beta.owner)
    with unchanged():
        assert post(f"/betas/{beta.key}/checkpoints/{quarter.id}", REPORT).status_code == 422
        blank = post(f"/betas/{beta.key}/checkpoints/{month.id}", {**REPORT, "solved": ""})
        assert blank.status_code == 422 and 'id="solved-error"' in blank.get_data(as_text=True)
        half = post(f"/betas/{beta.key}/checkpoints/{month.id}", {**REPORT, "actions-0-owner": ""})
        assert half.status_code == 422
    assert post(f"/betas/{beta.key}/checkpoints/{month.id}", REPORT).status_code == 302
    with unchanged():
        assert post(f"/betas/{beta.key}/checkpoints/{month.id}", REPORT).status_code == 422
    post("/sign-out")
    login(make_user(Role.VIEWER))
    with unchanged():
        assert post(f"/betas/{beta.key}/checkpoints/{month.id}", REPORT).status_code == 403


def test_a_reopened_ships_checkpoints_are_no_longer_due(db, client, login, measured, make_user):
    beta = measured()
    month = shipped(db, beta).checkpoints[0]
    decisions.reopen(db, Actor(make_user(Role.ADMIN)), beta, reason="Second look.")
    db.flush()
    login(beta.owner)
    assert f"/checkpoints/{month.id}" not in client.get("/").get_data(as_text=True)
