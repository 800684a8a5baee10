"""The activity on the pages: each member row of a cohort page, and the account page's section."""

from __future__ import annotations

import re
from datetime import UTC, timedelta

from betas.audit import Actor
from betas.models import Role
from cohorts import memberships
from tests.usage.sending import event
from usage.events import ingest_items


def row_of(html: str, account: str) -> str:
    return re.search(rf"<tr>(?:(?!</tr>).)*?{account}</div>.*?</tr>", html, re.S).group(0)


def cohort_page(client, joined) -> str:
    response = client.get(f"/betas/{joined.beta.key}/cohorts/{joined.cohort.slug}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_each_member_row_says_what_the_account_did_and_did_not(client, joined, login, make_user):
    login(make_user(Role.VIEWER))
    html = cohort_page(client, joined)
    assert "<th>Activity</th>" in html
    acme = row_of(html, "acme")
    assert f"last seen {joined.last.date().isoformat()}" in acme
    assert "3 events since joining" in acme
    assert "did: opened report on 3 days; did not: scheduled a report" in acme
    globex = row_of(html, "globex")
    assert "not seen since joining" in globex and "0 events since joining" in globex
    assert "did not: opened a report, scheduled a report" in globex
    initech = row_of(html, "initech")  # opted out: counts for no metric
    assert "1 event since joining" in initech and "did: " not in initech


def test_the_cohort_page_statements_do_not_grow_with_members(
    client, db, joined, login, make_user, make_account, count_queries, monkeypatch
):
    login(make_user(Role.VIEWER))
    cohort_page(client, joined)
    with count_queries() as three:
        cohort_page(client, joined)
    names = [make_account().external_id for _ in range(4)]
    monkeypatch.setattr(memberships, "utcnow", lambda: joined.start)
    memberships.enroll(
        db, Actor(joined.beta.owner), joined.beta, joined.cohort, names, "Asked.", joined.today
    )
    at = (joined.start + timedelta(hours=1)).isoformat()
    ingest_items(db, [event(account=name, occurred_at=at) for name in names], UTC)
    with count_queries() as seven:
        html = cohort_page(client, joined)
    assert html.count("since joining</div>") == 7
    assert seven.n == three.n


def test_the_account_page_shows_its_activity_in_each_beta(client, joined, login, make_user):
    login(make_user(Role.VIEWER))
    html = client.get("/accounts/acme").get_data(as_text=True)
    section = re.search(r'<section id="activity">.*?</section>', html, re.S).group(0)
    assert joined.beta.name in section
    assert "3 events since joining" in section
    assert "did: opened report on 3 days; did not: scheduled a report" in section
    assert re.search(r"Weekly use: <span class=\"tag met\">counts</span>", section)
    assert re.search(r"Scheduling: <span class=\"tag not-met\">does not count</span>", section)
    assert re.search(
        r"<td>opened</td><td>report</td><td>—</td>\s*<td class=\"num\">3</td>"
        r"<td class=\"num\">3</td>",
        section,
    )


def test_an_account_that_never_joined_a_beta_has_no_activity_section(
    client, login, make_user, make_account
):
    make_account("loner")
    login(make_user(Role.VIEWER))
    html = client.get("/accounts/loner").get_data(as_text=True)
    assert 'id="activity"' not in html and "never been in a beta" in html


def test_the_activity_escapes_what_the_product_sent(client, db, joined, login, make_user):
    at = (joined.start + timedelta(hours=2)).isoformat()
    ingest_items(db, [event(account="acme", action="<b>x</b>", occurred_at=at)], UTC)
    login(make_user(Role.VIEWER))
    html = client.get("/accounts/acme").get_data(as_text=True)
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
