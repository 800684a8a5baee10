"""In Chromium: an overdue beta's banner, the review, a ship refused, the blocker resolved, ship."""

from datetime import UTC, datetime, timedelta

from betas import lifecycle
from betas.audit import Actor
from betas.config import DEFAULT_FEEDBACK_TYPES
from betas.models import MetricStage, MetricUnit, Role, SuccessMetric
from cohorts import memberships
from cohorts.models import Account, Cohort, CohortKind
from feedback import log
from tests.browser.helpers import expect, inbox_reports
from tests.helpers import WEEKLY_USE_RULE
from usage.events import ingest_items


def overdue_beta_with_a_blocker(live, owner_email: str) -> int:
    """Store an overdue beta whose two members use it, and one open blocker; return its id."""
    settings = live.app.config["SHIPCALL"]
    today = lifecycle.today_in(settings.zone)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=6)
    with live.app.extensions["shipcall.db"].session() as session:
        beta = inbox_reports(
            session,
            owner_email,
            today,
            launched_at=start,
            decision_deadline=today + timedelta(days=1),
        )
        owner = beta.owner
        beta.metrics.append(
            SuccessMetric(
                name="Weekly use",
                stage=MetricStage.ADOPTION,
                target=40,
                unit=MetricUnit.PERCENT,
                rule=WEEKLY_USE_RULE,
            )
        )
        cohort = Cohort(beta=beta, slug="early", name="Early", kind=CohortKind.EARLY_ADOPTERS)
        session.add_all(
            [
                beta,
                cohort,
                Account(external_id="acme", name="Acme"),
                Account(external_id="globex", name="Globex"),
            ]
        )
        session.flush()
        memberships.enroll(
            session, Actor(owner), beta, cohort, ["acme", "globex"], "Asked.", start.date()
        )
        ingest_items(
            session,
            [
                {
                    "id": f"e-{account}",
                    "account": account,
                    "action": "opened",
                    "object": "report",
                    "occurred_at": datetime.now(UTC).isoformat(),
                }
                for account in ("acme", "globex")
            ],
            settings.zone,
        )
        beta.decision_deadline = today - timedelta(days=2)  # overdue once its members are in
        item = log.log(
            session,
            Actor(owner),
            beta,
            account="acme",
            original="The report <script>alert(1)</script> times out for us.",
            types=DEFAULT_FEEDBACK_TYPES,
            type="blocker",
            summary="Times out",
            reason="speed",
        )
        session.commit()
        return item.id


def fill_the_call(page) -> None:
    page.get_by_label("Ship: turn it on for everyone").check()
    page.get_by_label("Rationale").fill("Both teams open the reports every week.")
    page.get_by_label("Have we solved the problem").fill("Yes: they answer faster.")
    page.get_by_label("Does it replace something").fill("It replaces the CSV export.")
    page.get_by_label("Does marketing want").fill("A post on Monday.")


def test_an_overdue_beta_is_reviewed_refused_for_a_blocker_then_shipped(live, page, sign_in):
    sign_in("pat@example.com", Role.PM)
    blocker = overdue_beta_with_a_blocker(live, "pat@example.com")

    page.goto("/betas/inbox-reports")
    banner = page.get_by_role("alert")
    expect(banner).to_contain_text("Overdue")
    banner.get_by_role("link", name="Review and decide").click()

    expect(page.get_by_role("heading", name="Ship / no-ship review: Inbox reports")).to_be_visible()
    expect(page.locator("#recommendation .tag")).to_have_text("not yet")
    expect(page.locator("#feedback")).to_contain_text("<script>alert(1)</script> times out")

    fill_the_call(page)
    page.get_by_role("button", name="Record the decision").click()
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("Nothing was saved yet")
    expect(summary).to_contain_text("Open blocker")
    expect(page.get_by_label("Rationale")).to_have_value("Both teams open the reports every week.")

    page.goto(f"/feedback/{blocker}")
    page.get_by_label("resolved").check()
    page.get_by_label("Resolution").fill("Fixed the slow query.")
    page.locator("#blocker-form").get_by_role("button").click()
    expect(page.get_by_role("status").first).to_be_visible()

    page.goto("/betas/inbox-reports/review")
    expect(page.locator("#recommendation .tag")).to_have_text("ship")
    fill_the_call(page)
    page.get_by_role("button", name="Record the decision").click()

    expect(page.get_by_role("heading", name="Ship: Inbox reports")).to_be_visible()
    snapshot = page.locator("#snapshot")
    expect(snapshot).to_contain_text("The review it was made on")
    expect(snapshot).to_contain_text("Weekly use")
    expect(snapshot).to_contain_text("No blocker was open.")
    expect(page.get_by_role("link", name="The live review")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)  # decided: no longer overdue
