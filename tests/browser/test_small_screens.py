"""In Chromium at a phone's width (390 px): no page of a PM's journey scrolls sideways."""

from datetime import date

import pytest
from sqlalchemy import select

from betas import lifecycle
from betas.audit import Actor
from betas.models import Beta, BetaState, MetricStage, MetricUnit, Role, SuccessMetric, User
from cohorts import importing, memberships
from cohorts.models import Cohort, CohortKind
from tests.browser.helpers import expect, inbox_reports

PHONE = {"width": 390, "height": 844}
LONG = "a-very-long-identifier-without-any-space-that-must-wrap-" * 3
ACCOUNTS = [
    {"external_id": f"acct-{i:02}", "name": f"Account {i}", "attributes": {"plan": "pro"}}
    for i in range(12)
] + [{"external_id": LONG, "name": LONG, "attributes": {"note": LONG}}]
CONVERSATIONS = [
    {
        "external_id": f"c-{i}",
        "account": f"acct-{i:02}",
        "created_at": "2026-10-02T14:30:00Z",
        "tags": ["reports"],
        "parts": [
            {
                "author": "customer",
                "body": f"Can we export the report to CSV? {LONG}",
                "created_at": "2026-10-02T14:30:00Z",
            },
            {"author": "teammate", "body": "Not yet.", "created_at": "2026-10-02T15:00:00Z"},
        ],
    }
    for i in range(6)
]


def a_running_beta_with_members(live, owner_email: str) -> None:
    today = lifecycle.today_in(live.app.config["SHIPCALL"].zone)
    with live.app.extensions["shipcall.db"].session() as session:
        owner = session.scalar(select(User).where(User.email == owner_email))
        importing.import_items(session, importing.Kind.ACCOUNTS, ACCOUNTS)
        importing.import_items(session, importing.Kind.CONVERSATIONS, CONVERSATIONS)
        beta = inbox_reports(
            session,
            owner_email,
            today,
            name="Inbox reports, with a name long enough to wrap on a phone",
            problem=f"Teams cannot take their numbers elsewhere. {LONG}",
            learning_goals="Do teams export weekly?",
        )
        beta.metrics.append(
            SuccessMetric(
                name="Weekly exports",
                stage=MetricStage.ADOPTION,
                target=30,
                unit=MetricUnit.PERCENT,
                counts=LONG,
            )
        )
        session.add(beta)
        early = Cohort(
            beta=beta, slug="early", name="Early adopters", kind=CohortKind.EARLY_ADOPTERS
        )
        session.add(early)
        session.add(Cohort(beta=beta, slug="wave-2", name="Wave 2", kind=CohortKind.RANDOM_SAMPLE))
        session.add(Beta(key="draft-beta", name="A draft", owner=owner, state=BetaState.DRAFT))
        session.flush()
        ids = [a["external_id"] for a in ACCOUNTS[:4]] + [LONG]
        memberships.enroll(session, Actor(owner), beta, early, ids, f"asked: {LONG}", date.today())
        memberships.opt_out(session, Actor(owner), beta, "acct-03")
        session.commit()


def overflow(page) -> list[str]:
    """Return the elements wider than the window, when the page scrolls sideways."""
    return page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          if (document.documentElement.scrollWidth <= width) return [];
          return [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > width + 1)
            .slice(0, 5)
            .map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''));
        }"""
    )


@pytest.mark.browser
def test_no_page_of_the_journey_scrolls_sideways_at_390_px(live, page, sign_in):
    page.set_viewport_size(PHONE)
    page.set_default_timeout(15_000)  # eighteen pages in a row, on a machine that may be busy
    sign_in("pat@example.com", Role.ADMIN)
    a_running_beta_with_members(live, "pat@example.com")
    paths = [
        "/",
        "/betas/new",
        "/betas/draft-beta",
        "/betas/inbox-reports",
        "/betas/inbox-reports/edit",
        "/betas/inbox-reports/review",
        "/imports",
        "/betas/inbox-reports/finder?query=export+csv",
        "/betas/inbox-reports/cohorts",
        "/betas/inbox-reports/cohorts/early",
        "/betas/inbox-reports/members/acct-01/opt-out",
        "/betas/draft-beta/delete",
        "/conversations/c-1?query=export",
        "/betas/inbox-reports/cohorts/wave-2/sample",
        "/accounts",
        "/accounts/acct-01",
        f"/accounts/{LONG}",
        "/admin/users",
        "/admin/tokens",
    ]
    wide = {}
    for path in paths:
        page.goto(path)
        expect(page.locator("main")).to_be_visible()
        if found := overflow(page):
            wide[path] = found
    page.goto("/betas/inbox-reports/cohorts/wave-2/sample")
    page.get_by_label("Sample size").fill("3")
    page.get_by_role("button", name="Preview").click()
    if found := overflow(page):
        wide["sample preview"] = found
    assert wide == {}
