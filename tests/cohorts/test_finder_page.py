"""The finder page: search, enroll the ticked or the top accounts, save problem searches, roles."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from betas.models import BetaState, Role
from cohorts.models import (
    Account,
    Author,
    Cohort,
    CohortKind,
    Membership,
    MembershipStatus,
    ProblemSearch,
)
from tests.cohorts.conversations import converse


@pytest.fixture
def owner(make_user):
    return make_user(Role.PM)


@pytest.fixture
def beta(make_beta, owner):
    return make_beta(owner=owner, state=BetaState.RUNNING, key="csv-export")


@pytest.fixture
def askers(db):
    """Four accounts that asked for CSV export, most conversations first; one teammate mention."""
    for n, account in enumerate(("acme", "globex", "initech", "umbrella")):
        for day in range(4 - n):
            at = datetime(2026, 10, 2, 9, tzinfo=UTC) - timedelta(days=10 * day)
            converse(db, account, f"can I export this to CSV? ({account} #{day})", at=at)
    converse(db, "hooli", ("teammate", "You can export to CSV from Reports."))


def page(client, path: str, **query):
    response = client.get(path, query_string=query)
    return response, response.get_data(as_text=True)


def memberships(db, beta) -> dict[str, Membership]:
    rows = db.scalars(select(Membership).where(Membership.beta_id == beta.id))
    return {m.account.external_id: m for m in rows}


def test_the_beta_page_links_editors_to_the_finder(client, beta, login):
    login(beta.owner)
    assert "/betas/csv-export/finder" in client.get("/betas/csv-export").get_data(as_text=True)


def test_a_search_lists_accounts_with_escaped_highlighted_evidence(db, client, beta, login, askers):
    converse(db, "mallory", "<script>alert(1)</script> export to csv")
    login(beta.owner)
    response, html = page(client, "/betas/csv-export/finder", query="exports csv")
    assert response.status_code == 200
    assert "5 accounts asked" in html
    assert html.index("acme") < html.index("globex") < html.index("umbrella")
    assert "hooli" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <mark>export</mark> to <mark>csv</mark>" in html
    assert "<script>alert" not in html
    assert 'href="/accounts/acme"' in html
    assert 'name="accounts" value="acme"' in html


def test_a_viewer_can_search_but_gets_403_enrolling_or_saving(
    db, client, make_user, beta, login, post, askers, unchanged
):
    login(make_user(Role.VIEWER))
    assert "Find early adopters" not in client.get("/betas/csv-export").get_data(as_text=True)
    response, html = page(client, "/betas/csv-export/finder", query="export")
    assert response.status_code == 200
    assert "acme" in html
    assert 'name="accounts"' not in html and "save-search" not in html
    search = {"query": "export", "limit": "20"}
    enroll = {**search, "top": "3", "new_cohort": "Asked", "cohort": "", "enroll_top": "1"}
    with unchanged():
        assert post("/betas/csv-export/finder/enroll", enroll).status_code == 403
        assert post("/betas/csv-export/finder/problem-searches", search).status_code == 403
    assert memberships(db, beta) == {}
    assert db.scalars(select(ProblemSearch)).all() == []


def test_enrolling_the_top_3_creates_memberships_that_cite_the_evidence(
    db, client, beta, login, post, askers
):
    login(beta.owner)
    response = post(
        "/betas/csv-export/finder/enroll",
        {
            "query": "export csv",
            "limit": "20",
            "cohort": "",
            "new_cohort": "Asked for CSV",
            "top": "3",
            "enroll_top": "Enroll the top",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/betas/csv-export/finder?query=export+csv")
    members = memberships(db, beta)
    assert sorted(members) == ["acme", "globex", "initech"]
    assert members["acme"].reason == (
        'asked in 4 conversations, last 2026-10-02: "can I export this to CSV? (acme #0)"'
    )
    assert members["initech"].reason.startswith("asked in 2 conversations, last 2026-10-02: ")
    cohort = members["acme"].cohort
    assert (cohort.name, cohort.slug, cohort.kind) == (
        "Asked for CSV",
        "asked-for-csv",
        CohortKind.EARLY_ADOPTERS,
    )
    assert cohort.criteria["query"] == "export csv"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Enrolled 3 accounts in Asked for CSV: acme, globex, initech." in html
    assert ">active</span>" in html and "in this beta (Asked for CSV)" in html


def test_enrolling_selected_accounts_skips_opted_out_and_present_ones_saying_why(
    db, client, beta, login, post, askers
):
    cohort = Cohort(beta=beta, slug="wave-1", name="Wave 1", kind=CohortKind.EARLY_ADOPTERS)
    accounts = {a.external_id: a for a in db.scalars(select(Account))}
    for external_id, status in (("acme", MembershipStatus.OPTED_OUT), ("globex", "active")):
        db.add(Membership(beta=beta, account=accounts[external_id], cohort=cohort, status=status))
    db.flush()
    login(beta.owner)
    response = post(
        "/betas/csv-export/finder/enroll",
        {
            "query": "export",
            "cohort": "wave-1",
            "accounts": ["acme", "globex", "umbrella", "hooli"],
            "enroll_selected": "Enroll selected",
        },
    )
    assert response.status_code == 302
    members = memberships(db, beta)
    assert members["umbrella"].cohort.slug == "wave-1"
    assert members["umbrella"].reason.startswith("asked in 1 conversation, last 2026-10-02: ")
    assert members["acme"].status == MembershipStatus.OPTED_OUT
    assert "hooli" not in members
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Enrolled 1 account in Wave 1: umbrella." in html
    assert "Skipped acme: opted out of this beta" in html
    assert "Skipped globex: already in this beta (Wave 1, active)." in html
    assert "Skipped hooli: no longer matches this search." in html


def test_a_refused_search_keeps_what_was_typed_and_says_why(client, beta, login, unchanged):
    login(beta.owner)
    with unchanged():
        response, html = page(
            client, "/betas/csv-export/finder", query="-export the", tags="billing, vip"
        )
    assert response.status_code == 400
    assert 'id="query-error">Add at least one word to search for.' in html
    assert 'value="-export the"' in html and 'value="billing, vip"' in html
    with unchanged():
        response, html = page(client, "/betas/csv-export/finder", query="x" * 10_000)
    assert response.status_code == 400
    assert "At most 500 characters." in html
    with unchanged():
        response, html = page(
            client,
            "/betas/csv-export/finder",
            query="export",
            since="2026-10-02",
            until="2026-01-01",
        )
    assert response.status_code == 400
    assert 'id="until-error">On or after the start date.' in html


def test_a_refused_enrollment_keeps_the_ticked_accounts(
    db, client, beta, login, post, askers, unchanged
):
    login(beta.owner)
    with unchanged():
        response = post(
            "/betas/csv-export/finder/enroll",
            {
                "query": "export",
                "cohort": "",
                "new_cohort": "",
                "accounts": ["globex"],
                "enroll_selected": "Enroll selected",
            },
        )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Name the new cohort, or choose an existing one." in html
    assert re.search(r'value="globex" id="pick-\d+"\s+aria-label="[^"]+" checked', html)
    assert 'name="query" type="hidden" value="export"' in html
    assert memberships(db, beta) == {}


def test_a_closed_beta_shows_why_nobody_can_be_enrolled(client, make_beta, owner, login, askers):
    make_beta(owner=owner, key="draft-beta")
    login(owner)
    _response, html = page(client, "/betas/draft-beta/finder", query="export")
    assert "acme" in html and 'name="accounts"' not in html
    assert "accounts join a beta only while it runs" in html


def test_saving_a_problem_search_lists_it_and_refuses_it_twice(
    db, client, beta, login, post, askers, unchanged
):
    login(beta.owner)
    _response, html = page(client, "/betas/csv-export/finder", query='export "to csv"')
    assert "Save “export &#34;to csv&#34;” as a problem search" in html
    response = post("/betas/csv-export/finder/problem-searches", {"query": 'export "to csv"'})
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved as a problem search" in html
    assert "<code>export &#34;to csv&#34;</code>" in html
    with unchanged():
        response = post("/betas/csv-export/finder/problem-searches", {"query": 'Export "TO CSV"'})
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "has this problem search already" in html
    assert [s.query for s in db.scalars(select(ProblemSearch))] == ['export "to csv"']


# Evidence opens the conversation


def test_evidence_links_open_its_conversation_at_the_part_with_the_search(db, client, beta, login):
    conversation = converse(db, "acme", "Hello", "can we export to CSV?")
    asked = conversation.parts[1]
    login(beta.owner)
    _response, html = page(client, "/betas/csv-export/finder", query="exports csv")
    link = f"/conversations/{conversation.external_id}?query=exports+csv#part-{asked.id}"
    assert f'href="{link}"' in html


def test_the_conversation_page_marks_the_search_in_customers_words_and_escapes_the_rest(
    db, client, make_user, login
):
    conversation = converse(
        db,
        "acme",
        (Author.BOT, "Hi <b>there</b>! A teammate will be with you."),
        "We keep exporting <script>alert(1)</script> by hand",
        (Author.TEAMMATE, "You can export to CSV."),
    )
    login(make_user(Role.VIEWER))
    response, html = page(client, f"/conversations/{conversation.external_id}", query="export csv")
    assert response.status_code == 200
    parts = re.findall(r'<li class="part part-(\w+)" id="part-(\d+)">(.*?)</li>', html, re.S)
    assert [(author, int(part_id)) for author, part_id, _ in parts] == [
        ("bot", conversation.parts[0].id),
        ("customer", conversation.parts[1].id),
        ("teammate", conversation.parts[2].id),
    ]
    labels = [re.search(r"<strong>(\w+)</strong>", body).group(1) for *_, body in parts]
    assert labels == ["Bot", "Customer", "Teammate"]
    assert "We keep <mark>exporting</mark> &lt;script&gt;alert(1)&lt;/script&gt; by hand" in html
    assert "Hi &lt;b&gt;there&lt;/b&gt;!" in html and "<script>alert" not in html
    assert "You can export to CSV." in parts[2][2] and "<mark>" not in parts[2][2]
    assert 'href="/accounts/acme" id="back-to-account">Back to Acme</a>' in html


def test_the_conversation_page_without_a_search_or_with_an_empty_one_marks_nothing(
    db, client, beta, login
):
    conversation = converse(db, "acme", "export please")
    login(beta.owner)
    _response, html = page(client, f"/conversations/{conversation.external_id}")
    assert "<mark>" not in html and "export please" in html
    response, html = page(client, f"/conversations/{conversation.external_id}", query="the")
    assert response.status_code == 200
    assert "Nothing is marked: Add at least one word to search for." in html


def test_an_unknown_conversation_is_404_and_signed_out_visitors_sign_in_first(
    db, client, beta, login, unchanged
):
    conversation = converse(db, "acme", "export please")
    with unchanged():
        response = client.get(f"/conversations/{conversation.external_id}")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    login(beta.owner)
    assert client.get("/conversations/nope").status_code == 404


# Choosing whom to enroll


def test_accounts_already_in_the_beta_cannot_be_ticked_and_say_where_they_are(
    db, client, beta, login, askers
):
    cohort = Cohort(beta=beta, slug="wave-1", name="Wave 1", kind=CohortKind.EARLY_ADOPTERS)
    globex = db.scalar(select(Account).where(Account.external_id == "globex"))
    db.add(Membership(beta=beta, account=globex, cohort=cohort, status=MembershipStatus.ACTIVE))
    db.flush()
    login(beta.owner)
    _response, html = page(client, "/betas/csv-export/finder", query="export")
    assert 'name="accounts" value="acme"' in html
    assert 'value="globex"' not in html
    row = html[html.index("Globex</a>") - 600 : html.index("Globex</a>")]
    box = re.search(r'<input type="checkbox" disabled id="(pick-\d+)"[^>]*>', row)
    assert box and f'aria-describedby="{box.group(1)}-why"' in box.group(0)
    assert f'<span class="muted" id="{box.group(1)}-why">already in Wave 1</span>' in row


def test_select_all_is_a_small_deferred_script_and_the_page_works_without_it(
    client, beta, login, askers
):
    login(beta.owner)
    _response, html = page(client, "/betas/csv-export/finder", query="export")
    assert '<script src="/static/select_all.js" defer></script>' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "an inline script"
    control = re.search(r"<label[^>]*hidden><input[^>]*data-select-all=\"finder-results\"", html)
    assert control, "the control is hidden until the script shows it"
    script = client.get("/static/select_all.js")
    assert script.status_code == 200 and b":not(:disabled)" in script.get_data()
    script.close()


def test_dates_in_the_finders_tables_do_not_wrap(app, client, beta, login, askers):
    login(beta.owner)
    _response, html = page(client, "/betas/csv-export/finder", query="export")
    assert re.search(r'<td class="date">2026-10-02 09:00</td>', html)
    assert re.search(r'<time class="date" datetime="[^"]+">2026-10-02 09:00</time>', html)
    css = (Path(app.static_folder) / "style.css").read_text()
    assert re.search(r"^\.date \{ white-space: nowrap; \}$", css, re.M)


def test_a_saved_search_says_when_and_by_whom_and_is_not_offered_again(
    db, client, beta, login, post, askers
):
    login(beta.owner)
    post("/betas/csv-export/finder/problem-searches", {"query": "export csv"})
    saved = db.scalar(select(ProblemSearch))
    for query in ("export csv", "Export   CSV"):
        _response, html = page(client, "/betas/csv-export/finder", query=query)
        assert "save-search" not in html and "as a problem search</button>" not in html
        notice = html[html.index('id="search-saved"') :]
        notice = notice[: notice.index("</p>")]
        assert "This search is saved as a problem search (<code>export csv</code>)" in notice
        assert saved.created_at.strftime("%Y-%m-%d %H:%M") in notice
        assert f"by {beta.owner.display_name}." in notice
    _response, html = page(client, "/betas/csv-export/finder", query="export")
    assert 'id="save-search"' in html and 'id="search-saved"' not in html


# Failed forms


def test_a_failed_enrollment_opens_its_form_with_a_summary(
    db, client, beta, login, post, askers, unchanged
):
    login(beta.owner)
    with unchanged():
        response = post(
            "/betas/csv-export/finder/enroll",
            {"query": "export", "cohort": "", "new_cohort": "", "enroll_selected": "1"},
        )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    summary = html[html.index('class="error-summary"') :]
    summary = summary[: summary.index("</div>")]
    assert "Fix 2 problems" in summary
    assert 'href="#accounts">' in summary and 'href="#new_cohort">' in summary
    assert 'id="accounts"' in html
    assert 'action="/betas/csv-export/finder/enroll#enroll-form"' in html
    assert "Nothing was enrolled" not in html


def test_a_refused_search_opens_with_a_summary(client, beta, login):
    login(beta.owner)
    _response, html = page(client, "/betas/csv-export/finder", query="the")
    assert 'href="#query">Search what customers wrote: Add at least one word' in html
    assert 'action="/betas/csv-export/finder#finder-search"' in html


def test_the_enroll_url_opened_again_lands_on_the_finder(client, beta, login, unchanged):
    login(beta.owner)
    with unchanged():
        response = client.get("/betas/csv-export/finder/enroll")
    assert response.status_code == 302
    assert response.headers["Location"] == "/betas/csv-export/finder"


def test_after_enrolling_the_page_opens_at_the_top_where_it_says_who_joined(
    client, beta, login, post, askers
):
    login(beta.owner)
    response = post(
        "/betas/csv-export/finder/enroll",
        {"query": "export", "cohort": "", "new_cohort": "Asked", "top": "1", "enroll_top": "1"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("#top")
