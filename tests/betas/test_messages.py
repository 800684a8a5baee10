"""The beta message: the guide's four points drawn from the framing, until the owner writes one."""

import pytest

from betas import messages
from betas.audit import Actor, beta_history, describe
from betas.errors import Forbidden, Invalid
from betas.models import BetaState, MetricStage, MetricUnit, Role, SuccessMetric


@pytest.fixture
def beta(make_beta):
    return make_beta(
        state=BetaState.RUNNING,
        name="Inbox reports",
        customer_outcome="Teams see their reply times every week.",
    )


def test_the_drawn_message_makes_the_guides_four_points(beta):
    text = messages.message_of(beta)
    assert "you are part of the beta of Inbox reports: an early version" in text  # a beta
    assert "The problem: Teams cannot see how fast they answer." in text
    assert "What we built: Teams see their reply times every week." in text
    assert "You will find it in the product under Inbox reports." in text
    assert "We need your feedback" in text


def test_the_drawn_message_says_where_the_metrics_events_happen(db, beta):
    beta.metrics.append(
        SuccessMetric(
            name="Inbox opens",
            stage=MetricStage.ADOPTION,
            target=10,
            unit=MetricUnit.PERCENT,
            rule={
                "events": [{"action": "opened", "object": "report", "place": "inbox"}],
                "at_least": 1,
                "per": "event",
                "window_days": 7,
            },
        )
    )
    assert "You will find it in inbox." in messages.message_of(beta)


def test_the_owner_writes_the_message_and_a_blank_one_follows_the_framing_again(db, beta):
    owner = Actor(beta.owner)
    messages.set_message(db, owner, beta, "  Hi! Try the new reports.  ")
    assert messages.message_of(beta) == "Hi! Try the new reports."
    assert (
        describe(beta_history(db, beta).entries[0])
        == f"{beta.owner.display_name} rewrote the beta's message"
    )
    messages.set_message(db, owner, beta, " ")
    assert beta.message is None and messages.message_of(beta) == messages.drawn_message(beta)
    assert "drawn from the framing" in describe(beta_history(db, beta).entries[0])


def test_saving_the_drawn_message_unchanged_keeps_following_the_framing(db, beta, unchanged):
    with unchanged():
        messages.set_message(db, Actor(beta.owner), beta, messages.drawn_message(beta))
    beta.problem = "Reworded."
    assert "The problem: Reworded." in messages.message_of(beta)


def test_only_the_owner_or_an_admin_writes_it_and_not_too_long(db, beta, make_user, unchanged):
    viewer = make_user(Role.VIEWER)
    with unchanged(), pytest.raises(Forbidden):
        messages.set_message(db, Actor(viewer), beta, "Mine.")
    with unchanged(), pytest.raises(Invalid):
        messages.set_message(db, Actor(beta.owner), beta, "x" * 10_001)


def test_the_message_page_edits_it_and_a_refusal_keeps_the_text(
    db, client, login, post, beta, unchanged
):
    login(beta.owner)
    url = f"/betas/{beta.key}/message"
    page = client.get(url).get_data(as_text=True)
    assert "The problem: Teams cannot see how fast they answer." in page
    response = post(url, {"message": "Hello <team>, try it."}, token_from=url)
    assert response.status_code == 302 and response.location.endswith(f"{url}#message-form")
    db.expire_all()
    assert beta.message == "Hello <team>, try it."
    with unchanged():
        refused = post(url, {"message": "y" * 10_001}, token_from=url)
    assert refused.status_code == 422 and "y" * 10_001 in refused.get_data(as_text=True)


def test_a_viewer_cannot_open_the_message_page(client, login, beta, make_user):
    login(make_user(Role.VIEWER))
    assert client.get(f"/betas/{beta.key}/message").status_code == 403


def test_the_message_is_shown_beside_every_export_of_members(
    db, client, login, beta, make_cohort, make_user
):
    cohort = make_cohort(beta)
    messages.set_message(db, Actor(beta.owner), beta, "Hello <team>, try it.")
    login(make_user(Role.VIEWER))
    for url in (f"/betas/{beta.key}/cohorts", f"/betas/{beta.key}/cohorts/{cohort.slug}"):
        page = client.get(url).get_data(as_text=True)
        assert (
            '<pre class="prose message" id="beta-message">Hello &lt;team&gt;, try it.</pre>' in page
        ), url
        assert "Edit the message" not in page  # a viewer cannot
