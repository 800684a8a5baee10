"""In Chromium: a PM frames, measures and launches a beta; the first admin sets Shipcall up."""

from datetime import timedelta

import pytest

from betas import lifecycle
from betas.auth.users import create_user, setup_token
from betas.models import Role
from tests.browser.helpers import SESSION_COOKIE, expect
from tests.helpers import PASSWORD


def session_cookie(page) -> dict:
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert SESSION_COOKIE in cookies, f"no session cookie among {sorted(cookies)}"
    return cookies[SESSION_COOKIE]


@pytest.mark.browser
def test_a_pm_signs_in_frames_a_beta_adds_a_metric_launches_it_and_sees_it_running(live, page):
    with live.app.extensions["shipcall.db"].session() as session:
        create_user(session, "pat@example.com", PASSWORD, Role.PM, name="Pat")
        session.commit()
    deadline = lifecycle.today_in(live.app.config["SHIPCALL"].zone) + timedelta(days=30)

    page.goto("/sign-in")
    page.get_by_label("Email").fill("pat@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Betas")).to_be_visible()
    expect(page.get_by_role("banner")).to_contain_text("Pat (pm)")
    cookie = session_cookie(page)
    assert (cookie["secure"], cookie["httpOnly"], cookie["sameSite"]) == (True, True, "Lax")

    page.get_by_role("main").get_by_role("link", name="Frame a beta").click()
    expect(page.get_by_role("heading", name="Frame a beta")).to_be_visible()
    page.get_by_label("Key", exact=True).fill("inbox-reports")
    page.get_by_label("Name", exact=True).fill("Inbox reports")
    page.get_by_label("Problem", exact=True).fill("Support teams cannot see how fast they answer.")
    page.get_by_label("Learning goals", exact=True).fill("Do teams open the reports weekly?")
    page.get_by_label("Decision deadline", exact=True).fill(deadline.isoformat())
    page.get_by_role("button", name="Save draft").click()
    expect(page).to_have_url(f"{live.url}/betas/inbox-reports")
    expect(page.get_by_role("heading", level=1)).to_have_text("Inbox reports draft")

    metric = page.locator("#metric-form")  # under "Add a success metric", open on a new draft
    expect(metric).to_be_visible()
    metric.get_by_label("Name", exact=True).fill("Weekly use")
    metric.get_by_label("Stage", exact=True).select_option(label="Adoption")
    metric.get_by_label("Target", exact=True).fill("40")
    metric.get_by_label("Unit", exact=True).select_option(label="% of enrolled accounts")
    metric.get_by_label("Action 1", exact=True).fill("opened")
    metric.get_by_label("Object 1", exact=True).fill("report")
    metric.get_by_role("button", name="Add metric").click()
    metrics = page.locator("#metrics")
    row = metrics.get_by_role("row").filter(has_text="Weekly use")
    expect(row).to_contain_text("at least 40% of enrolled accounts")
    expect(row).to_contain_text("at least 1 event of opened report (any place) in the last 7 days")

    page.get_by_role("button", name="Launch beta").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Inbox reports running")
    expect(page.get_by_role("status")).to_have_text(
        f"Inbox reports is running. Decide by {deadline.isoformat()}."
    )

    page.get_by_role("navigation").get_by_role("link", name="Betas").click()
    row = page.get_by_role("row").filter(has_text="inbox-reports")
    expect(row).to_have_count(1)
    expect(row.get_by_role("cell").nth(1)).to_have_text("running")
    expect(row.get_by_role("cell").nth(3)).to_contain_text(deadline.isoformat())
    expect(row.get_by_role("cell").nth(3)).to_contain_text("30 days left")


@pytest.mark.browser
def test_the_first_admin_sets_shipcall_up_through_a_link_that_works_once(live, page):
    page.goto("/sign-in")
    expect(page.get_by_role("heading", name="Shipcall has no users yet")).to_be_visible()
    setup_link = "/setup?token=" + setup_token(live.app.config["SECRET_KEY"])

    page.goto(setup_link)
    expect(page.get_by_role("heading", name="Create the first admin")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Ada")
    page.get_by_label("Email", exact=True).fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create admin and sign in").click()

    expect(page).to_have_url(f"{live.url}/")
    expect(page.get_by_role("heading", name="Betas")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("Welcome to Shipcall. Frame your first beta.")
    expect(page.get_by_role("banner")).to_contain_text("Ada (admin)")
    assert session_cookie(page)["secure"] is True

    again = page.goto(setup_link)
    assert again is not None and again.status == 410
    expect(page.get_by_role("heading", name="This setup link was used")).to_be_visible()
    page.get_by_role("main").get_by_role("link", name="Sign in").click()
    expect(page.get_by_role("heading", name="Betas")).to_be_visible()  # Ada is signed in
