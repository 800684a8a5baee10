"""In Chromium: the product sends events through the API, and the Metrics page charts them."""

from datetime import UTC, datetime, timedelta

import pytest

from betas import lifecycle
from betas.audit import Actor
from betas.auth.tokens import create_token
from betas.models import MetricStage, MetricUnit, Role, SuccessMetric
from cohorts import memberships
from cohorts.models import Account, Cohort, CohortKind
from tests.browser.helpers import expect, inbox_reports
from tests.helpers import WEEKLY_USE_RULE

COHORTS = {"early": ["acme", "globex"], "sample": ["initech", "umbrella"]}


def measured_beta(live, owner_email: str) -> str:
    """Launch a beta two days ago with two cohorts of two members; return an events token."""
    today = lifecycle.today_in(live.app.config["SHIPCALL"].zone)
    with live.app.extensions["shipcall.db"].session() as session:
        beta = inbox_reports(
            session,
            owner_email,
            today,
            launched_at=datetime.now(UTC) - timedelta(days=2),
        )
        owner = beta.owner
        beta.metrics.append(
            SuccessMetric(
                name="Weekly use",
                stage=MetricStage.ADOPTION,
                target=60,
                unit=MetricUnit.PERCENT,
                rule=WEEKLY_USE_RULE,
            )
        )
        session.add(beta)
        session.add_all(
            Account(external_id=a, name=a.title()) for ids in COHORTS.values() for a in ids
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
        memberships.enroll(session, actor, beta, early, COHORTS["early"], "Asked.", today)
        memberships.enroll(session, actor, beta, sample, COHORTS["sample"], "Drawn.", today)
        _token, secret = create_token(session, "product", ["events:write"], owner, actor)
        session.commit()
    return secret


@pytest.mark.browser
def test_events_sent_through_the_api_show_on_the_metrics_page(live, page, sign_in):
    sign_in("pat@example.com", Role.PM)
    secret = measured_beta(live, "pat@example.com")
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    events = [
        {
            "id": f"e-{n}",
            "account": account,
            "action": "Opened",
            "object": "report",
            "occurred_at": soon,
        }
        for n, account in enumerate(["acme", "globex", "initech", "acme"])
    ]
    response = page.request.post(
        "/api/v1/events",
        data={"events": events},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status == 200, response.text()
    assert response.json() == {"accepted": 4, "duplicates": 0}

    page.goto("/betas/inbox-reports")
    page.get_by_role("link", name="Metrics per cohort").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Metrics")
    section = page.locator("section.metric")
    expect(section.get_by_role("heading", level=2)).to_contain_text("Weekly use")
    chart = section.get_by_role("img", name="Chart of Weekly use")
    expect(chart).to_be_visible()
    assert chart.evaluate("img => img.complete && img.naturalWidth > 0")
    rows = section.locator("table.latest tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0).locator("td")).to_have_text(
        ["Early adopters", "early adopters", "2", "2", "100%", "met"]
    )
    expect(rows.nth(1).locator("td")).to_have_text(
        ["Random sample", "random sample", "2", "1", "50%", "not met"]
    )
    expect(rows.nth(2).locator("td")).to_have_text(["All members", "", "4", "3", "75%", "met"])
