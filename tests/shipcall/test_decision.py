"""The decision through its pages and its API: refusals store nothing, the snapshot holds."""

from datetime import UTC, date, timedelta

import pytest

from betas import decisions
from betas.audit import Actor
from betas.config import DEFAULT_FEEDBACK_TYPES
from betas.models import BetaState, Decision, Role
from feedback.models import BlockerState
from shipcall import review
from tests.helpers import assert_error

ANSWERS = {
    "solved": "Yes, for most teams.",
    "replaces_existing": "The CSV export.",
    "marketing": "No.",
}
FORM = {
    "outcome": "ship",
    "rationale": "Teams open the reports weekly.",
    **ANSWERS,
    "learned": "Managers read them on Mondays.",
    "approver": "Dana",
    "contributors": "Sam, Kim",
    "informed": "Sales",
}


def body(**values):
    return {"outcome": "ship", "rationale": "Teams use it.", "answers": ANSWERS, **values}


# The page


def test_a_ship_with_an_open_blocker_is_refused_on_the_page_and_stores_nothing(
    db, client, login, post, measured, say, unchanged
):
    beta = measured()
    item = say(beta, "acct-1")
    login(beta.owner)
    with unchanged():
        response = post(f"/betas/{beta.key}/decision", FORM)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Open blocker: #" in html and f'id="waive_feedback_{item.id}-error"' in html
    assert "Teams open the reports weekly." in html  # everything typed is kept
    assert "Managers read them on Mondays." in html


def test_a_ship_with_each_blocker_waived_decides_and_shows_the_snapshot(
    db, client, login, post, measured, say
):
    beta = measured()
    item = say(beta, "acct-1")
    login(beta.owner)
    response = post(
        f"/betas/{beta.key}/decision", {**FORM, f"waive_feedback_{item.id}": "Fixed on Monday."}
    )
    assert response.status_code == 302
    decision = db.query(Decision).filter_by(beta_id=beta.id).one()
    assert response.headers["Location"].endswith(
        f"/betas/{beta.key}/decisions/{decision.id}#decision"
    )
    assert decision.participants == {
        "approver": "Dana",
        "contributors": ["Sam", "Kim"],
        "informed": ["Sales"],
    }
    assert decision.waivers[0]["reason"] == "Fixed on Monday."
    hub = client.get(f"/betas/{beta.key}").get_data(as_text=True)
    assert f"/betas/{beta.key}/decisions/{decision.id}" in hub and "Decided:" in hub
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    for text in (
        "Ship:",
        "Teams open the reports weekly.",
        "Fixed on Monday.",
        "It breaks our export.",
    ):
        assert text in html, text
    assert f'href="/betas/{beta.key}/review"' in html


def test_a_no_ship_needs_no_waiver(db, client, login, post, measured, say):
    beta = measured(using=0)
    say(beta, "acct-1")
    login(beta.owner)
    response = post(f"/betas/{beta.key}/decision", {**FORM, "outcome": "no_ship"})
    assert response.status_code == 302
    db.expire_all()
    assert beta.state == BetaState.DECIDED and beta.decision.outcome.value == "no_ship"


def test_only_the_owner_or_an_admin_may_decide(
    db, client, login, post, measured, make_user, unchanged
):
    beta = measured()
    for role in (Role.VIEWER, Role.PM):
        login(make_user(role))
        with unchanged():
            assert post(f"/betas/{beta.key}/decision", FORM).status_code == 403
        post("/sign-out")
    login(make_user(Role.ADMIN))
    assert post(f"/betas/{beta.key}/decision", FORM).status_code == 302


def test_a_blank_rationale_shows_beside_its_field(db, client, login, post, measured, unchanged):
    beta = measured()
    login(beta.owner)
    with unchanged():
        response = post(f"/betas/{beta.key}/decision", {**FORM, "rationale": " ", "marketing": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="rationale-error"' in html and 'id="marketing-error"' in html


def test_the_snapshot_stays_as_it_was_when_the_data_changes(
    db, client, login, post, measured, say, make_account
):
    beta = measured()
    item = say(beta, "acct-1")
    login(beta.owner)
    post(f"/betas/{beta.key}/decision", {**FORM, f"waive_feedback_{item.id}": "Fixed."})
    db.expire_all()
    decision = beta.decision
    frozen = review.size_of(decision.snapshot), decision.snapshot
    # Later: the blocker is resolved, more feedback arrives, more members send events.
    item.blocker_state, item.resolution = BlockerState.RESOLVED, "Shipped the fix."
    say(beta, "acct-2", original="Love it.", type="praise")
    db.flush()
    db.expire_all()
    assert (review.size_of(beta.decision.snapshot), beta.decision.snapshot) == frozen
    assert frozen[1]["feedback"]["open_blockers"][0]["id"] == item.id
    html = client.get(f"/betas/{beta.key}/decisions/{decision.id}").get_data(as_text=True)
    assert "It breaks our export." in html and "Love it." not in html
    live = client.get(f"/betas/{beta.key}/review").get_data(as_text=True)
    assert "It breaks our export." not in live  # resolved: no longer listed as open


def test_the_snapshot_is_written_in_the_decisions_transaction_and_stays_small(
    db, client, login, post, measured, say
):
    beta = measured(size=20, days=60, sampled=10)
    for i in range(30):
        say(beta, f"acct-{1 + i % 20}", original="x" * 5_000, type="blocker")
    login(beta.owner)
    blockers = {f"waive_feedback_{b.id}": "Later." for b in beta_blockers(db, beta)}
    assert post(f"/betas/{beta.key}/decision", {**FORM, **blockers}).status_code == 302
    db.expire_all()
    assert review.size_of(beta.decision.snapshot) < review.SNAPSHOT_MAX


def beta_blockers(db, beta):
    return gathered(db, beta).feedback.blockers


def test_the_snapshot_thins_a_long_series_to_stay_under_the_limit(db, measured, monkeypatch):
    beta = measured(size=2, days=40)
    found = gathered(db, beta)
    whole = review.size_of(review.snapshot(found))
    monkeypatch.setattr(review, "SNAPSHOT_MAX", whole // 2)
    thinned = review.snapshot(found)
    assert review.size_of(thinned) < whole // 2
    assert thinned["days_kept_every"] > 1
    days = thinned["metrics"][0]["all_members"]["days"]
    assert days[-1][0] == date.today().isoformat()  # the latest day is always kept


# Decided closes growth, keeps feedback open; the record, and reopening


def gathered(db, beta):
    return review.gather(db, beta, date.today(), UTC, DEFAULT_FEEDBACK_TYPES)


def decided(db, beta, outcome="no_ship"):
    return decisions.decide(
        db,
        Actor(beta.owner),
        beta,
        outcome=outcome,
        rationale="Done.",
        answers=ANSWERS,
        snapshot=review.snapshot(gathered(db, beta)),
        today=date.today(),
    )


def test_a_decided_beta_takes_no_one_but_still_takes_feedback(
    db, client, bearer, measured, make_account
):
    beta = measured()
    decided(db, beta)
    make_account("newcomer")
    headers = bearer(beta.owner, ("members:write", "feedback:write"))
    api = f"/api/v1/betas/{beta.key}"
    for method, path, json in (
        ("POST", "/cohorts", {"slug": "wave-2", "name": "Wave 2", "kind": "manual"}),
        ("POST", "/cohorts/early/members", {"accounts": ["newcomer"], "reason": "Asked."}),
        ("POST", "/cohorts/early/sample", {"size": 1}),
        ("PUT", "/members/newcomer", {"cohort": "early", "reason": "Asked."}),
    ):
        response = client.open(api + path, method=method, json=json, headers=headers)
        assert_error(response, 409, "beta_not_running")
    logged = client.post(
        f"{api}/feedback",
        json={"account": "newcomer", "original": "Still no PDF."},
        headers=headers,
    )
    assert logged.status_code == 201


def test_an_admin_reopens_a_decision_with_a_reason_and_it_stays_listed(
    db, client, login, post, measured, make_user, unchanged
):
    beta = measured()
    first = decided(db, beta)
    login(beta.owner)
    with unchanged():
        assert post(f"/betas/{beta.key}/reopen", {"reason": "Second look."}).status_code == 403
    post("/sign-out")
    login(make_user(Role.ADMIN))
    page = client.get(f"/betas/{beta.key}/decisions/{first.id}").get_data(as_text=True)
    assert 'id="reopen-form"' in page
    with unchanged():
        assert post(f"/betas/{beta.key}/reopen", {"reason": ""}).status_code == 422
    response = post(f"/betas/{beta.key}/reopen", {"reason": "The big customer came back."})
    assert response.status_code == 302 and response.headers["Location"].endswith("#deadline")
    db.expire_all()
    assert beta.state == BetaState.RUNNING
    listed = client.get(f"/betas/{beta.key}/decisions").get_data(as_text=True)
    assert "The big customer came back." in listed and "No-ship" in listed
    history = client.get(f"/betas/{beta.key}").get_data(as_text=True)
    assert (
        "reopened the beta, setting its no-ship decision aside: The big customer came back."
        in history
    )


# The API


def test_the_api_refuses_a_ship_with_a_detail_per_open_blocker_and_stores_nothing(
    db, client, bearer, measured, say, unchanged
):
    beta = measured()
    items = [say(beta, "acct-1"), say(beta, "acct-2")]
    headers = bearer(beta.owner)
    with unchanged():
        response = client.post(f"/api/v1/betas/{beta.key}/decision", json=body(), headers=headers)
    error = assert_error(response, 409, "blockers_open")
    assert [d["field"] for d in error["details"]] == [f"waive_feedback_{i.id}" for i in items]
    waivers = [{"feedback": i.id, "reason": "Fixed."} for i in items]
    response = client.post(
        f"/api/v1/betas/{beta.key}/decision", json=body(waivers=waivers), headers=headers
    )
    assert response.status_code == 201, response.get_json()
    decision = response.get_json()
    assert decision["outcome"] == "ship" and len(decision["waivers"]) == 2
    assert decision["snapshot"]["recommendation"]["verdict"] == "not_yet"


def test_the_api_refuses_a_ship_while_a_metric_was_never_measured(
    db, client, bearer, measured, unchanged
):
    beta = measured(using=0)
    metric = beta.metrics[0]
    headers = bearer(beta.owner)
    with unchanged():
        response = client.post(f"/api/v1/betas/{beta.key}/decision", json=body(), headers=headers)
    error = assert_error(response, 409, "not_measured")
    assert [d["field"] for d in error["details"]] == [f"waive_metric_{metric.id}"]


def test_the_api_refuses_a_beta_that_is_not_running_and_a_user_who_is_not_its_owner(
    db, client, bearer, make_beta, measured, make_user, unchanged
):
    draft, beta = make_beta(), measured()
    owner, stranger = bearer(draft.owner), bearer(make_user(Role.PM))
    with unchanged():
        response = client.post(f"/api/v1/betas/{draft.key}/decision", json=body(), headers=owner)
    assert_error(response, 409, "beta_not_running")
    with unchanged():
        response = client.post(f"/api/v1/betas/{beta.key}/decision", json=body(), headers=stranger)
    assert_error(response, 403, "forbidden")


def test_the_api_reads_the_decision_once_decided(db, client, bearer, measured):
    beta = measured()
    headers = bearer(scopes=("betas:read",))
    assert_error(
        client.get(f"/api/v1/betas/{beta.key}/decision", headers=headers), 404, "not_found"
    )
    decided(db, beta)
    response = client.get(f"/api/v1/betas/{beta.key}/decision", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "no_ship"
    assert response.get_json()["decided_by"] == beta.owner.email


@pytest.mark.parametrize("days", [1])
def test_an_overdue_beta_can_be_decided(db, client, bearer, measured, days):
    beta = measured(deadline=date.today() - timedelta(days=days))
    response = client.post(
        f"/api/v1/betas/{beta.key}/decision",
        json=body(outcome="no_ship"),
        headers=bearer(beta.owner),
    )
    assert response.status_code == 201
