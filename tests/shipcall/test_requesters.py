"""Closing the loop after a ship: who asked, the CSV with the message, marked as told."""

from datetime import UTC, date

from betas import decisions
from betas.audit import Actor
from betas.config import DEFAULT_FEEDBACK_TYPES
from betas.models import Role
from cohorts.models import ShipNotice
from shipcall import review

ANSWERS = {"solved": "Yes.", "replaces_existing": "The CSV export.", "marketing": "No."}


def decide(db, beta, outcome="ship"):
    decisions.decide(
        db,
        Actor(beta.owner),
        beta,
        outcome=outcome,
        rationale="They use it.",
        answers=ANSWERS,
        snapshot=review.snapshot(
            review.gather(db, beta, date.today(), UTC, DEFAULT_FEEDBACK_TYPES)
        ),
        today=date.today(),
    )
    db.flush()


def test_the_accounts_that_asked_are_listed_with_why_we_know(
    db, client, login, measured, say, make_account, make_user
):
    beta = measured(size=2, sampled=1)
    make_account("outsider", name="Outsider")
    say(beta, "outsider", original="Please add weekly reports!", type="feature_request")
    say(beta, "acct-3", original="Confusing.", type="usability")  # the sampled one: not a request
    decide(db, beta)
    login(make_user(Role.VIEWER))
    html = client.get(f"/betas/{beta.key}/requesters").get_data(as_text=True)
    assert "3 accounts asked for it" in html
    assert "Early adopter: Asked." in html
    assert "Please add weekly reports!" in html
    assert "acct-3" not in html
    assert 'id="told-form"' in html and 'name="accounts"' not in html  # a viewer only reads


def test_the_owner_sets_the_message_exports_it_and_marks_accounts_told(
    db, client, login, post, measured, unchanged
):
    beta = measured(size=2)
    decide(db, beta)
    login(beta.owner)
    with unchanged():
        assert post(f"/betas/{beta.key}/requesters/message", {"message": ""}).status_code == 422
    response = post(f"/betas/{beta.key}/requesters/message", {"message": "=It shipped! See /help"})
    assert response.headers["Location"].endswith("#message")
    csv = client.get(f"/betas/{beta.key}/requesters.csv").get_data(as_text=True)
    lines = csv.splitlines()
    assert lines[0] == "account,name,why we know they asked,told at,message"
    assert len(lines) == 3 and lines[1].endswith(",'=It shipped! See /help")  # never a formula
    response = post(f"/betas/{beta.key}/requesters/told", {"accounts": ["acct-1"]})
    assert response.headers["Location"].endswith("#requesters")
    db.expire_all()
    (notice,) = db.query(ShipNotice).all()
    assert notice.account.external_id == "acct-1" and notice.told_by == beta.owner
    html = client.get(f"/betas/{beta.key}/requesters").get_data(as_text=True)
    assert 'value="acct-1"' not in html and 'value="acct-2"' in html
    with unchanged():
        assert post(f"/betas/{beta.key}/requesters/told", {}).status_code == 422


def test_there_is_no_one_to_tell_before_a_ship_and_others_may_not_mark(
    db, client, login, post, measured, make_user, unchanged
):
    no_ship, shipped = measured(), measured()
    decide(db, no_ship, "no_ship")
    decide(db, shipped)
    login(make_user(Role.PM))
    assert client.get(f"/betas/{no_ship.key}/requesters").status_code == 404
    with unchanged():
        told = post(f"/betas/{shipped.key}/requesters/told", {"accounts": ["acct-1"]})
        assert told.status_code == 403
