"""In Chromium: feedback logged from the beta's page, codified, and seen in its patterns."""

from datetime import UTC, datetime, timedelta

import pytest

from betas import lifecycle
from betas.audit import Actor
from betas.models import Role
from cohorts import memberships
from cohorts.models import Account, Cohort, CohortKind
from tests.browser.helpers import expect, inbox_reports


def running_beta(live, owner_email: str) -> None:
    """Launch a beta with an early adopter (acme) and a random sample member (globex)."""
    today = lifecycle.today_in(live.app.config["SHIPCALL"].zone)
    with live.app.extensions["shipcall.db"].session() as session:
        beta = inbox_reports(
            session,
            owner_email,
            today,
            launched_at=datetime.now(UTC) - timedelta(days=2),
        )
        owner = beta.owner
        session.add_all(
            [Account(external_id="acme", name="Acme"), Account(external_id="globex", name="Globex")]
        )
        early = Cohort(
            beta=beta, slug="early", name="Early adopters", kind=CohortKind.EARLY_ADOPTERS
        )
        sample = Cohort(
            beta=beta, slug="sample", name="Random sample", kind=CohortKind.RANDOM_SAMPLE
        )
        session.add_all([early, sample])
        session.flush()
        actor = Actor(owner)
        memberships.enroll(session, actor, beta, early, ["acme"], "Asked.", today)
        memberships.enroll(session, actor, beta, sample, ["globex"], "Drawn.", today)
        session.commit()


def log_feedback(page, account: str, words: str, **codes) -> None:
    page.goto("/betas/inbox-reports")
    page.get_by_text("Log what a customer said").click()
    form = page.locator("#feedback-form")
    form.get_by_label("Account").fill(account)
    form.get_by_label("What they said").fill(words)
    if codes:
        form.get_by_text("Codify it now (optional)").click()
        form.get_by_label("Type").select_option(codes["type"])
        form.get_by_label("Summary").fill(codes["summary"])
        form.get_by_label("Reason").fill(codes["reason"])
    form.get_by_role("button", name="Log feedback").click()
    expect(page.get_by_text(f"from {account} logged.")).to_be_visible()


@pytest.mark.browser
def test_feedback_logged_and_codified_shows_in_the_patterns(live, page, sign_in):
    sign_in("pat@example.com", Role.PM)
    running_beta(live, "pat@example.com")

    log_feedback(page, "Acme", "Where did the export button go?")
    log_feedback(
        page, "globex", "where is export??", type="question", summary="Lost export",
        reason="export is hidden!",
    )  # fmt: skip

    # Codify the first, raw, item on its page.
    page.goto("/betas/inbox-reports/feedback?uncodified=y")
    page.locator("#feedback tbody tr").first.get_by_role("link").first.click()
    codes = page.locator("#codes-form")
    codes.get_by_label("Type").select_option("comprehension")
    codes.get_by_label("Summary").fill("Cannot find export")
    codes.get_by_label("Reason").fill("Export is  hidden")
    codes.get_by_role("button", name="Save").click()
    expect(page.get_by_text("saved.")).to_be_visible()

    page.goto("/betas/inbox-reports")
    page.get_by_role("link", name="patterns").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Feedback patterns")
    chart = page.get_by_role("img", name="Chart of the items of each type")
    expect(chart).to_be_visible()
    assert chart.evaluate("img => img.complete && img.naturalWidth > 0")

    # One reason, whatever its spelling: an item from each cohort kind, from two accounts.
    reason = page.locator("#top-reasons tbody tr")
    expect(reason).to_have_count(1)
    expect(reason.locator("td")).to_have_text(
        ["Export is hidden", "1", "1", "1", "1", "0", "0", "0", "0", "2", "2"]
    )
    question = page.locator("#repeated-questions tbody tr")
    expect(question.locator("td").first).to_have_text("Export is hidden")

    # Its number of items opens the log listing exactly those two.
    reason.locator("td").nth(9).get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Feedback")
    listed = page.locator("#feedback tbody tr")
    expect(listed).to_have_count(2)
    expect(page.get_by_label("Reason is")).to_have_value("export is hidden")
