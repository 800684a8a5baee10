"""In Chromium: a PM previews a random sample of five, sees the mix, and draws it."""

import re

import pytest
from sqlalchemy import insert

from betas import lifecycle
from betas.models import MetricStage, MetricUnit, Role, SuccessMetric
from cohorts.models import Account, Cohort, CohortKind
from tests.browser.helpers import expect, inbox_reports


def beta_with_accounts(live, owner_email: str) -> None:
    today = lifecycle.today_in(live.app.config["SHIPCALL"].zone)
    with live.app.extensions["shipcall.db"].session() as session:
        beta = inbox_reports(
            session,
            owner_email,
            today,
            problem="Teams cannot take their numbers elsewhere.",
            learning_goals="Do teams export weekly?",
        )
        beta.metrics.append(
            SuccessMetric(
                name="Exports", stage=MetricStage.ADOPTION, target=30, unit=MetricUnit.PERCENT
            )
        )
        session.add(beta)
        session.add(Cohort(beta=beta, slug="wave-2", name="Wave 2", kind=CohortKind.RANDOM_SAMPLE))
        session.execute(
            insert(Account),
            [
                {
                    "external_id": f"acct-{i:02}",
                    "name": f"Account {i}",
                    "attributes": {"plan": ["free", "pro", "team"][i % 3]},
                }
                for i in range(40)
            ],
        )
        session.commit()


@pytest.mark.browser
def test_a_pm_previews_a_sample_of_five_and_draws_it(live, page, sign_in):
    sign_in("pat@example.com", Role.PM)
    beta_with_accounts(live, "pat@example.com")

    page.goto("/betas/inbox-reports/cohorts/wave-2")
    page.get_by_role("link", name="Draw a random sample").click()
    page.get_by_label("Sample size").fill("5")
    page.get_by_label("Seed").fill("spring")
    page.get_by_label("Compare the mix of").fill("plan")
    page.get_by_role("button", name="Preview").click()

    preview = page.locator("#preview")
    # The form posts to its own id: the preview, which opens it, is what the PM sees first.
    expect(page).to_have_url(re.compile(r"/sample#sample-form$"))
    expect(preview.get_by_role("heading", name="Preview: 5 accounts")).to_be_in_viewport()
    expect(preview).to_contain_text("40")  # the pool: every account, none asked or joined yet
    expect(page.locator("#mix")).to_contain_text("pro")
    expect(page.locator("#drawn li")).to_have_count(5)
    drawn = page.locator("#drawn li").all_inner_texts()

    page.get_by_role("button", name="Draw and enroll 5 accounts").click()
    members = page.locator("#members tbody tr")
    expect(members).to_have_count(5)
    expect(members.first).to_contain_text("random sample (seed spring, pool of 40)")
    for account in drawn:
        expect(members.filter(has_text=account)).to_have_count(1)
