"""The review: its sections, its recommendation's rules, what it costs, and its API."""

import re
from datetime import UTC, date, timedelta
from pathlib import Path

import pytest

from betas.audit import Actor
from betas.config import DEFAULT_FEEDBACK_TYPES
from betas.db import utcnow
from betas.models import DeadlineExtension, Direction, MetricUnit, Role, SuccessMetric
from feedback import asks, calls
from feedback.patterns import OpenBlocker, Patterns, Split
from shipcall import review
from shipcall.review import Verdict
from usage.values import DayValue, MetricValues, Series, Status

# The recommendation's rules, on plain values


def metric_at(value, status, target=40, name="Weekly use"):
    metric = SuccessMetric(
        name=name, target=target, unit=MetricUnit.PERCENT, direction=Direction.AT_LEAST
    )
    everyone = Series(None, "All members", None, [DayValue(date(2026, 11, 1), 10, 4, value)])
    return MetricValues(metric, status, [], everyone)


def feedback(blockers=0, uncodified=0):
    open_blockers = [
        OpenBlocker(i, f"acct-{i}", "Acme", "none", None, "It breaks.", None)
        for i in range(1, blockers + 1)
    ]
    return Patterns(
        beta=None,
        items=Split({}, 10),
        types=[],
        reasons=[],
        reason_count=0,
        questions=[],
        question_count=0,
        open_blockers=Split({}, blockers),
        blockers=open_blockers,
        uncodified=Split({}, uncodified),
    )


def test_every_target_met_and_no_open_blocker_recommends_ship():
    found = review.recommend([metric_at(45.0, Status.MET)], feedback())
    assert found.verdict == Verdict.SHIP
    assert (
        found.reasons[0] == "Weekly use meets its target (45%, at least 40% of enrolled accounts)."
    )


@pytest.mark.parametrize(
    ("metrics", "fb", "reason"),
    [
        (
            [metric_at(30.0, Status.NOT_MET)],
            feedback(),
            "Weekly use is at 30%, short of its target",
        ),
        ([metric_at(45.0, Status.MET)], feedback(uncodified=2), "2 feedback items are still"),
    ],
    ids=["a target missed", "feedback uncodified"],
)
def test_a_missed_target_or_uncodified_feedback_recommends_discussing(metrics, fb, reason):
    found = review.recommend(metrics, fb)
    assert found.verdict == Verdict.DISCUSS
    assert any(r.startswith(reason) for r in found.reasons), found.reasons


@pytest.mark.parametrize(
    ("metrics", "fb", "reason"),
    [
        ([metric_at(45.0, Status.MET)], feedback(blockers=2), "2 open blockers"),
        ([metric_at(None, Status.NOT_MEASURED)], feedback(), "Weekly use has never been measured"),
        # Not yet outranks discuss: a missed target does not hide an open blocker.
        ([metric_at(10.0, Status.NOT_MET)], feedback(blockers=1, uncodified=3), "1 open blocker"),
    ],
    ids=["an open blocker", "never measured", "before discuss"],
)
def test_open_blockers_or_a_metric_never_measured_recommend_not_yet(metrics, fb, reason):
    found = review.recommend(metrics, fb)
    assert found.verdict == Verdict.NOT_YET
    assert any(r.startswith(reason) for r in found.reasons), found.reasons


# The page


def test_the_review_reads_the_evidence_against_the_framing(
    db, client, login, make_user, measured, say
):
    beta = measured(size=3, using=2, sampled=2, customer_outcome="Teams answer faster.")
    first = beta.owner
    item = say(beta, "acct-1", original="Export <b>breaks</b> our month-end.")
    say(beta, "acct-2", original="Where is the PDF?", type="question", codified=False)
    login(make_user(Role.VIEWER))
    page = client.get(f"/betas/{beta.key}/review")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for text in (
        beta.problem,
        beta.learning_goals,
        "Teams answer faster.",
        "Weekly use",
        "Recommendation:",
        "not yet",
        "1 open blocker: resolve or waive each before a ship.",
        "Export &lt;b&gt;breaks&lt;/b&gt; our month-end.",
        f"/feedback/{item.id}",
        "open_blockers=y",
        "uncodified=y",
        "Early",
        "Sample",
        "random sample",
        "days left",
        "No extension used.",
        f"/betas/{beta.key}/metrics/{beta.metrics[0].id}.svg",
    ):
        assert text in html, text
    assert "decision-form" not in html  # a viewer sees the review, not the form
    assert first.display_name in html


def test_the_review_shows_the_feedback_patterns_and_the_asks_and_calls(
    db, client, login, make_user, measured, say
):
    beta = measured(size=3, using=3)
    for account in ("acct-1", "acct-2"):
        say(beta, account, original="What does Sync do?", type="question")
    say(beta, "acct-3", original="Where is it?", type="question")
    say(beta, "acct-3", original="I'd like PDF.", type="feature_request")
    owner = Actor(beta.owner)
    asks.record_asks(
        db, owner, beta, ["acct-1", "acct-2"], "email", now=utcnow(), zone=UTC, cooldown_days=14
    )
    calls.create_call(db, owner, beta, account="acct-3", held_at=utcnow() - timedelta(hours=1))
    calls.create_call(db, owner, beta, account="acct-1", held_at=utcnow() + timedelta(days=2))
    db.flush()
    login(make_user(Role.VIEWER))
    html = client.get(f"/betas/{beta.key}/review").get_data(as_text=True)
    assert 'id="top-reasons"' in html and 'id="repeated-questions"' in html
    by_type = html[html.index('id="feedback-types"') : html.index('id="top-reasons"')]
    assert re.search(r"<td>question</td>.*?type=question[^>]*>3</a>", by_type, re.S)
    assert "reason_is=export" in html  # each number links to exactly its items
    assert re.search(r"Asks for feedback sent</dt><dd><a [^>]*>2</a>", html)
    assert re.search(r"Calls held</dt><dd><a [^>]*>1</a>", html)  # the planned one is not held
    body = review.as_json(review.gather(db, beta, date.today(), UTC, DEFAULT_FEEDBACK_TYPES))
    assert body["outreach"] == {"asks_sent": 2, "calls_held": 1}
    assert body["feedback"]["repeated_questions"][0] == {
        "reason": "export",
        "items": 3,
        "accounts": 3,
        "by_cohort_kind": {"early_adopters": 3},
    }


def test_the_owner_gets_the_decision_form_with_a_waiver_for_each_blocker(
    db, client, login, measured, say
):
    beta = measured()
    item = say(beta, "acct-1")
    login(beta.owner)
    html = client.get(f"/betas/{beta.key}/review").get_data(as_text=True)
    assert 'id="decision-form"' in html
    assert f'name="waive_feedback_{item.id}"' in html


def test_every_page_of_the_beta_links_the_review_and_the_overdue_banner_does_too(
    db, client, login, make_user, running_beta
):
    beta = running_beta(deadline=date.today() - timedelta(days=2))
    login(make_user(Role.VIEWER))
    for path in (f"/betas/{beta.key}", f"/betas/{beta.key}/metrics", f"/betas/{beta.key}/feedback"):
        html = client.get(path).get_data(as_text=True)
        assert "Review and decide" in html, path
        assert f'href="/betas/{beta.key}/review"' in html, path


def test_the_review_shows_days_overdue_and_the_extensions_with_their_reasons(
    db, client, login, make_user, running_beta
):
    beta = running_beta(deadline=date.today() - timedelta(days=3))
    beta.extensions.append(
        DeadlineExtension(
            old_deadline=date.today() - timedelta(days=10),
            new_deadline=beta.decision_deadline,
            reason="Waiting for the big customer.",
            user=beta.owner,
        )
    )
    db.flush()
    login(make_user(Role.VIEWER))
    html = client.get(f"/betas/{beta.key}/review").get_data(as_text=True)
    assert "Overdue by 3 days" in html
    assert "Waiting for the big customer." in html


def test_the_review_takes_the_same_statements_whatever_the_members_and_feedback(
    db, client, login, make_user, measured, say, count_queries
):
    login(make_user(Role.VIEWER))
    small, large = measured(size=2, days=2), measured(size=12, days=6, sampled=5)
    say(small, "acct-1")
    for i in range(8):
        say(large, f"acct-{3 + i}", type=("blocker", "question")[i % 2])
    counts = []
    for beta in (small, large):
        with count_queries() as counter:
            assert client.get(f"/betas/{beta.key}/review").status_code == 200
        counts.append(counter.n)
    assert counts[0] == counts[1]


def test_the_review_prints_without_its_controls():
    css = (Path(__file__).resolve().parents[2] / "static" / "style.css").read_text()
    printed = css.split("@media print {", 1)[1].split("\n}\n", 1)[0]
    hidden = next(line for line in printed.splitlines() if "display: none" in line)
    for control in (".topbar", ".no-print", "nav.beta-pages", "form"):
        assert control in hidden, control
    assert "break-inside: avoid" in printed
    # The phones' block stays last, so that nothing after it undoes it on small screens.
    assert css.rindex("/* Phones:") > css.index("@media print")
    assert css.rstrip().endswith("}") and "@media" not in css[css.rindex("@media (max-width") + 1 :]


# The API


def test_the_review_api_answers_each_section(db, client, bearer, measured, say):
    beta = measured(size=3, using=2)
    item = say(beta, "acct-1")
    response = client.get(
        f"/api/v1/betas/{beta.key}/review", headers=bearer(scopes=("betas:read",))
    )
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) >= {"beta", "recommendation", "metrics", "feedback", "cohorts", "deadline"}
    assert body["recommendation"]["verdict"] == "not_yet"
    assert body["beta"]["key"] == beta.key
    (metric,) = body["metrics"]
    assert metric["status"] == "met"
    members, accounts, value = metric["all_members"]["days"][-1][1:]
    assert (members, accounts, value) == (3, 2, pytest.approx(66.67))
    assert [b["id"] for b in body["feedback"]["open_blockers"]] == [item.id]
    assert body["cohorts"][0]["members"] == {"active": 3}
    assert body["deadline"]["overdue"] is False


def test_the_review_api_takes_the_same_statements_whatever_the_data(
    db, client, bearer, measured, say, count_queries
):
    headers = bearer(scopes=("betas:read",))
    small, large = measured(size=2, days=2), measured(size=12, days=6, sampled=5)
    for i in range(6):
        say(large, f"acct-{3 + i}", type=("blocker", "question", "praise")[i % 3])
    # The token's first use is recorded (which forgets its grant); the next request reads it.
    client.get(f"/api/v1/betas/{small.key}/review", headers=headers)
    counts = []
    for beta in (small, large):
        client.get(f"/api/v1/betas/{beta.key}/review", headers=headers)  # remembered from here
        with count_queries() as counter:
            assert (
                client.get(f"/api/v1/betas/{beta.key}/review", headers=headers).status_code == 200
            )
        counts.append(counter.n)
    assert counts[0] == counts[1]
