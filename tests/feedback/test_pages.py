"""The feedback pages: the quick log on the beta's page, the log's filters and paging, an item."""

from html import escape

from sqlalchemy import select

from betas.audit import Actor
from betas.models import Role
from feedback import log
from feedback.models import FeedbackItem
from tests.feedback.helpers import TYPES

TYPED = "  <b>Export</b> is gone?\r\n\r\nWe need it = now  "


def logged(db, beta, user, original="Said.", **values) -> FeedbackItem:
    return log.log(db, Actor(user), beta, account="acme", original=original, types=TYPES, **values)


def test_a_viewer_logs_feedback_from_the_beta_page_word_for_word(
    db, client, make_user, login, post, beta, acme
):
    viewer = login(make_user(Role.VIEWER))
    page = client.get(f"/betas/{beta.key}").get_data(as_text=True)
    assert 'id="feedback-form"' in page

    response = post(
        f"/betas/{beta.key}/feedback/new",
        {
            "feedback-account": "Acme Ltd",
            "feedback-original": TYPED,
            "feedback-source": "call",
            "feedback-type": "",
        },
    )

    assert response.status_code == 302
    assert response.location.endswith(f"/betas/{beta.key}#feedback")
    item = db.scalar(select(FeedbackItem))
    assert (item.original, item.account, item.logged_by) == (TYPED, acme, viewer)
    assert not item.codified


def test_a_refused_log_keeps_every_character_and_stores_nothing(
    client, make_user, login, post, beta, acme, unchanged
):
    login(make_user(Role.VIEWER))
    with unchanged():
        response = post(
            f"/betas/{beta.key}/feedback/new",
            {
                "feedback-account": "nobody",
                "feedback-original": TYPED + "x" * 20_000,
                "feedback-source": "email",
                "feedback-summary": " Gone ",
            },
        )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="feedback-account-error">No account has the id or name' in html
    typed = escape(TYPED.replace("\r\n", "\n") + "x" * 20_000, quote=False)
    assert typed in html.replace("\r\n", "\n")
    assert 'value=" Gone "' in html
    assert client.get(f"/betas/{beta.key}/feedback/new").status_code == 302


def test_the_log_filters_and_pages_in_as_many_statements_whatever_its_rows(
    db, client, make_user, login, beta, acme, pm, count_queries
):
    login(make_user(Role.VIEWER))
    logged(db, beta, pm, "A blocker", type="blocker", summary="Crash", reason="Big inbox")
    logged(db, beta, pm, "Just words")
    url = f"/betas/{beta.key}/feedback"

    with count_queries() as few:
        client.get(url)
    for n in range(60):
        logged(db, beta, pm, f"Said {n}")
    with count_queries() as many:
        first = client.get(url).get_data(as_text=True)
    assert many.n == few.n
    assert "Said 59" in first and "A blocker" not in first and 'rel="next"' in first

    blockers = client.get(url, query_string={"open_blockers": "y"}).get_data(as_text=True)
    assert "A blocker" in blockers and "Just words" not in blockers
    uncodified = client.get(url, query_string={"uncodified": "y", "reason": "inbox"})
    assert "No feedback matches these filters." in uncodified.get_data(as_text=True)
    by_reason = client.get(url, query_string={"reason": "big INBOX"}).get_data(as_text=True)
    assert "A blocker" in by_reason and "Just words" not in by_reason
    by_cohort = client.get(url, query_string={"cohort": "early", "source": "other"})
    assert "Said 59" in by_cohort.get_data(as_text=True)
    by_call = client.get(url, query_string={"cohort": "early", "source": "call"})
    assert "No feedback matches these filters." in by_call.get_data(as_text=True)


def test_a_pm_codifies_and_resolves_on_the_item_page_which_shows_its_history(
    db, client, login, post, beta, acme, pm
):
    item = logged(db, beta, pm, "It crashes")
    login(pm)

    response = post(
        f"/feedback/{item.id}/codes",
        {"type": "blocker", "summary": "Crash", "reason": "Big inbox"},
    )
    assert response.location.endswith(f"/feedback/{item.id}#codes")
    refused = post(f"/feedback/{item.id}/blocker", {"blocker_state": "resolved"})
    assert refused.status_code == 422
    assert 'id="resolution-error">Say how the blocker was resolved.' in refused.get_data(
        as_text=True
    )
    post(f"/feedback/{item.id}/blocker", {"blocker_state": "resolved", "resolution": "2.3"})

    page = client.get(f"/feedback/{item.id}").get_data(as_text=True)
    assert "It crashes" in page and "resolved" in page
    assert f"logged feedback item {item.id}" in page
    assert "set the type to blocker" in page
    assert "changed the blocker state from open to resolved" in page
    assert "Early (active)" in page


def test_a_viewer_reads_an_item_but_may_not_codify_it(
    db, client, make_user, login, post, beta, acme, pm, unchanged
):
    item = logged(db, beta, pm, "Hello")
    login(make_user(Role.VIEWER))
    page = client.get(f"/feedback/{item.id}").get_data(as_text=True)
    assert "Hello" in page and 'id="codes-form"' not in page
    with unchanged():
        assert post(f"/feedback/{item.id}/codes", {"type": "praise"}).status_code == 403


def test_another_pm_may_not_codify(db, make_user, login, post, beta, acme, pm, unchanged):
    item = logged(db, beta, pm, "Hello")
    login(make_user(Role.PM))
    with unchanged():
        assert post(f"/feedback/{item.id}/codes", {"type": "praise"}).status_code == 403
