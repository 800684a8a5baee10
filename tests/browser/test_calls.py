"""In Chromium: plan a call, prepare for it, log what was said on it, see it in the log."""

import pytest

from betas import lifecycle
from betas.audit import Actor
from betas.models import Role
from cohorts import memberships
from cohorts.models import Account, Cohort, CohortKind
from tests.browser.helpers import expect, inbox_reports


def beta_with_a_member(live, owner_email: str) -> None:
    """Run a beta owned by the user, with acme among its early adopters."""
    today = lifecycle.today_in(live.app.config["SHIPCALL"].zone)
    with live.app.extensions["shipcall.db"].session() as session:
        beta = inbox_reports(session, owner_email, today)
        owner = beta.owner
        session.add(Account(external_id="acme", name="Acme Ltd"))
        early = Cohort(
            beta=beta, slug="early", name="Early adopters", kind=CohortKind.EARLY_ADOPTERS
        )
        session.add(early)
        session.flush()
        memberships.enroll(
            session, Actor(owner), beta, early, ["acme"], "Asked for reports twice.", today
        )
        session.commit()


@pytest.mark.browser
def test_a_call_is_planned_prepared_and_its_feedback_logged(live, page, sign_in):
    sign_in("pat@example.com", Role.PM)
    beta_with_a_member(live, "pat@example.com")

    page.goto("/betas/inbox-reports")
    page.get_by_role("link", name="Calls").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Calls")
    page.get_by_label("Account").fill("Acme Ltd")
    page.get_by_label("When").fill("2026-12-03T15:30")
    page.get_by_label("Questions to ask").fill("Why do you export every Monday?")
    page.get_by_role("button", name="Plan the call").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Call with Acme Ltd")
    prepare = page.locator("#prepare")
    expect(prepare).to_contain_text("Asked for reports twice.")
    expect(prepare).to_contain_text("Early adopters")
    expect(page.locator("#call")).to_contain_text("Why do you export every Monday?")

    said = ["We export <everything> on Mondays.", "Where did the CSV button go?"]
    for words in said:
        page.get_by_label("What they said").fill(words)
        page.get_by_role("button", name="Log it and write the next").click()
        expect(page.locator(".flash-success")).to_contain_text("logged from this call")
        expect(page.get_by_label("What they said")).to_have_value("")
    items = page.locator("#said-here li .prose")
    expect(items).to_have_text(said)

    page.goto("/betas/inbox-reports/feedback")
    rows = page.locator("#feedback tbody tr")
    expect(rows).to_have_count(2)
    for row in range(2):
        expect(rows.nth(row).locator("td").nth(4)).to_have_text("call")
    expect(page.locator("#feedback")).to_contain_text(said[0])
