"""In Chromium: import accounts and conversations, find who asked, enroll the top three."""

import pytest

from betas import lifecycle
from betas.models import MetricStage, MetricUnit, Role, SuccessMetric
from tests.browser.helpers import expect, inbox_reports

ACCOUNTS = b"""id,name,plan
acme,Acme,pro
globex,Globex,team
initech,Initech,pro
umbrella,Umbrella,free
"""
CONVERSATIONS = b"""conversation_id,account_id,author,body,created_at,tags
c1,acme,customer,<p>Can I <b>export</b> this report to CSV?</p>,2026-10-01T10:00:00Z,reports
c1,acme,teammate,Not yet!,2026-10-01T10:05:00Z,reports
c2,acme,customer,We really need CSV exports,2026-10-20T09:00:00Z,reports
c3,globex,customer,exporting to a spreadsheet would help,2026-10-10T09:00:00Z,reports
c4,initech,customer,any way to export the numbers?,2026-09-01T09:00:00Z,reports
c5,umbrella,teammate,You can export from the old reports page,2026-10-02T09:00:00Z,reports
"""


def running_beta(live, owner_email: str) -> None:
    database = live.app.extensions["shipcall.db"]
    today = lifecycle.today_in(live.app.config["SHIPCALL"].zone)
    with database.session() as session:
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
        session.commit()


def import_file(page, kind_label: str, name: str, content: bytes) -> None:
    page.get_by_role("navigation").get_by_role("link", name="Import").click()
    page.get_by_label(kind_label).check()
    page.get_by_label("File").set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": content}
    )
    page.get_by_role("button", name="Upload and preview").click()
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("created")


@pytest.mark.browser
def test_a_pm_imports_searches_and_enrolls_the_top_three_with_their_reasons(live, page, sign_in):
    sign_in("pat@example.com", Role.PM)
    running_beta(live, "pat@example.com")

    import_file(page, "Accounts: one row", "accounts.csv", ACCOUNTS)
    import_file(page, "Conversations: one row per message", "conversations.csv", CONVERSATIONS)

    page.goto("/betas/inbox-reports")
    page.get_by_role("link", name="Find early adopters").click()
    page.get_by_label("Search what customers wrote").fill("export")
    page.get_by_role("button", name="Search").click()
    results = page.locator("#enroll-form tbody tr")
    expect(results).to_have_count(3)  # umbrella's only mention is a teammate's
    expect(results.first).to_contain_text("Acme")
    expect(results.first.locator("mark").first).to_be_visible()

    page.get_by_label("New cohort name").fill("Early adopters")
    page.get_by_label("How many of the top accounts").fill("3")
    page.get_by_role("button", name="Enroll the top").click()
    expect(page.get_by_role("status").first).to_contain_text("3")

    page.get_by_role("link", name="Cohorts").first.click()
    page.get_by_role("link", name="Early adopters").click()
    members = page.locator("#members tbody tr")
    expect(members).to_have_count(3)
    acme = members.filter(has_text="acme")
    expect(acme).to_contain_text("asked in 2 conversations")
    expect(acme).to_contain_text("2026-10-20")
    expect(acme.get_by_text("active")).to_be_visible()
    expect(members.filter(has_text="umbrella")).to_have_count(0)


def search(page, query: str) -> None:
    page.goto("/betas/inbox-reports/finder")
    page.get_by_label("Search what customers wrote").fill(query)
    page.get_by_role("button", name="Search").click()


@pytest.mark.browser
def test_a_pm_selects_all_reads_the_evidence_and_sees_who_is_in_already(live, page, sign_in):
    sign_in("pat@example.com", Role.PM)
    running_beta(live, "pat@example.com")
    import_file(page, "Accounts: one row", "accounts.csv", ACCOUNTS)
    import_file(page, "Conversations: one row per message", "conversations.csv", CONVERSATIONS)
    history = page.locator("#import-history tbody tr")
    expect(history).to_have_count(2)
    expect(history.first).to_contain_text("Pat")
    expect(history.first).to_contain_text("conversations.csv")

    search(page, "export")
    boxes = page.locator("#finder-results tbody input[type=checkbox]")
    expect(boxes).to_have_count(3)
    select_all = page.get_by_label("Select all")
    select_all.check()
    for n in range(3):
        expect(boxes.nth(n)).to_be_checked()
    select_all.uncheck()
    expect(page.locator("#finder-results tbody input:checked")).to_have_count(0)
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.get_by_label("New cohort name").fill("First askers")
    page.get_by_role("button", name="Enroll selected").click()
    expect(page.get_by_role("status").first).to_contain_text("Enrolled 2 accounts")

    search(page, "export")
    expect(page.locator("#finder-results tbody input:disabled")).to_have_count(2)
    expect(page.locator("#finder-results")).to_contain_text("already in First askers")
    page.get_by_label("Select all").check()
    expect(page.locator("#finder-results tbody input:checked")).to_have_count(1)

    page.locator("#finder-results").get_by_role("link", name="c1").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Conversation c1")
    parts = page.locator("#parts li")
    expect(parts).to_have_count(2)
    expect(parts.first).to_contain_text("Customer")
    expect(parts.first.locator("mark")).to_have_text("export")
    expect(parts.nth(1)).to_contain_text("Teammate")
    expect(parts.nth(1).locator("mark")).to_have_count(0)
    page.get_by_role("link", name="Back to Acme").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Acme")


@pytest.mark.browser
def test_without_javascript_the_finder_still_enrolls_the_ticked_accounts(
    live, browser, page, sign_in
):
    sign_in("pat@example.com", Role.PM)
    running_beta(live, "pat@example.com")
    import_file(page, "Accounts: one row", "accounts.csv", ACCOUNTS)
    import_file(page, "Conversations: one row per message", "conversations.csv", CONVERSATIONS)

    context = browser.new_context(base_url=live.url, java_script_enabled=False)
    context.set_default_timeout(5_000)
    context.add_cookies(page.context.cookies())
    plain = context.new_page()
    search(plain, "export")
    expect(plain.get_by_label("Select all")).to_be_hidden()
    plain.locator("#finder-results tbody input[type=checkbox]").first.check()
    plain.get_by_label("New cohort name").fill("By hand")
    plain.get_by_role("button", name="Enroll selected").click()
    expect(plain.get_by_role("status").first).to_contain_text("Enrolled 1 account in By hand")
    context.close()
