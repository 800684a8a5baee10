"""The hub pages: the dashboard and a beta's page, what they show and what they cost."""

import re
from datetime import date, timedelta

from betas import lifecycle
from betas.audit import HISTORY_PAGE_SIZE, Actor, record
from betas.models import BetaState, Role
from betas.web import LAUNCH_REQUIREMENTS
from cohorts import memberships
from cohorts.models import Account, Cohort, CohortKind, Membership, MembershipStatus


def add_members(db, beta, count, status=MembershipStatus.ACTIVE, slug="early"):
    cohort = Cohort(beta=beta, slug=slug, name=slug.title(), kind=CohortKind.EARLY_ADOPTERS)
    for i in range(count):
        account = Account(external_id=f"{beta.key}-{slug}-{i}", name=f"Account {i}")
        db.add(Membership(beta=beta, account=account, cohort=cohort, status=status))
    db.flush()
    return cohort


def test_the_dashboard_lists_betas_most_urgent_first_with_members(
    db, client, make_user, make_beta, login
):
    login(make_user(Role.VIEWER))
    later = make_beta(
        key="later",
        name="Later",
        state=BetaState.RUNNING,
        deadline=date.today() + timedelta(days=20),
    )
    make_beta(
        key="late", name="Late", state=BetaState.RUNNING, deadline=date.today() - timedelta(days=1)
    )
    make_beta(key="draft", name="Draft")
    cohort = Cohort(beta=later, slug="early", name="Early", kind=CohortKind.EARLY_ADOPTERS)
    for i, status in enumerate([MembershipStatus.ACTIVE] * 3 + [MembershipStatus.OPTED_OUT]):
        account = Account(external_id=f"acct-{i}", name=f"Account {i}")
        db.add(Membership(beta=later, account=account, cohort=cohort, status=status))
    db.flush()
    html = client.get("/").get_data(as_text=True)
    assert html.index("Late") < html.index("Later") < html.index("Draft")
    row = html[html.index(">Later<") :]
    assert '<td class="num">3 active members</td>' in row[: row.index("</tr>")]
    assert "20 days left" in html


def test_user_text_is_escaped(client, make_beta, login):
    beta = make_beta(name="<script>alert(1)</script>", problem="<img src=x onerror=alert(1)>")
    login(beta.owner)
    for path in ["/", f"/betas/{beta.key}"]:
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)" not in html and "<img src=x" not in html
        assert "&lt;script&gt;" in html


def test_unknown_beta_is_a_404_page(client, make_user, login, unchanged):
    login(make_user())
    with unchanged():
        response = client.get("/betas/nope")
    assert response.status_code == 404
    assert "There is no beta with the key" in response.get_data(as_text=True)


def test_the_dashboards_statements_do_not_grow_with_its_betas(
    db, client, make_user, make_beta, login, count_queries
):
    login(make_user(Role.VIEWER))
    add_members(db, make_beta(state=BetaState.RUNNING), 2)
    with count_queries() as one:
        assert client.get("/").status_code == 200
    for _ in range(5):
        add_members(db, make_beta(state=BetaState.RUNNING), 3)
    with count_queries() as six:
        assert client.get("/").status_code == 200
    assert 0 < six.n == one.n


def test_a_betas_page_costs_the_same_whatever_its_cohorts_and_members(
    db, client, make_beta, login, count_queries
):
    beta = make_beta(state=BetaState.RUNNING)
    login(beta.owner)
    add_members(db, beta, 1)
    with count_queries() as small:
        assert client.get(f"/betas/{beta.key}").status_code == 200
    add_members(db, beta, 20, slug="wave-2")
    add_members(db, beta, 5, MembershipStatus.OPTED_OUT, slug="wave-3")
    with count_queries() as large:
        assert client.get(f"/betas/{beta.key}").status_code == 200
    assert 0 < large.n == small.n


def test_a_registered_launch_requirement_is_on_the_checklist_and_refuses_launch(
    app, db, client, make_beta, login, post, monkeypatch, unchanged
):
    def sheet_linked(_session, beta, _today):
        return [{"field": "sheet", "message": f"Link a feedback sheet to {beta.name} first."}]

    requirements = [*app.extensions[LAUNCH_REQUIREMENTS], sheet_linked]
    monkeypatch.setitem(app.extensions, LAUNCH_REQUIREMENTS, requirements)
    beta = make_beta(name="Inbox reports")
    login(beta.owner)
    assert "Link a feedback sheet to Inbox reports first." in client.get(
        f"/betas/{beta.key}"
    ).get_data(as_text=True)
    with unchanged():
        response = post(f"/betas/{beta.key}/launch", follow_redirects=True)
    assert "Link a feedback sheet to Inbox reports first." in response.get_data(as_text=True)
    db.refresh(beta)
    assert beta.state == BetaState.DRAFT


def launch_card(html: str) -> str:
    card = html[html.index('id="launch"') :]
    return card[: card.index("</section>")]


def test_the_launch_button_waits_while_the_checklist_lists_what_is_missing(
    db, client, make_beta, login
):
    beta = make_beta(framed=False)
    login(beta.owner)
    card = launch_card(client.get(f"/betas/{beta.key}").get_data(as_text=True))
    assert "Describe the problem this beta sets out to solve." in card
    assert (
        '<button type="button" class="secondary" disabled aria-describedby="launch-note">'
        "Launch beta</button>"
    ) in card
    assert '<p class="hint" id="launch-note">Launch once everything above is done.</p>' in card
    assert "/launch" not in card  # nothing to send yet


def test_a_framed_draft_offers_launch_as_its_primary_action(client, make_beta, login):
    beta = make_beta()
    login(beta.owner)
    card = launch_card(client.get(f"/betas/{beta.key}").get_data(as_text=True))
    assert f'action="/betas/{beta.key}/launch"' in card
    assert '<button type="submit" class="">Launch beta</button>' in card
    assert "disabled" not in card and "Launch once" not in card


def history_of(html: str) -> list[str]:
    """Return the history's lines as they read, newest first, without their times."""
    section = html[html.index('<section id="history">') :]
    section = section[: section.index("</section>")]
    lines = re.findall(r"</time>\s*(.*?)</li>", section, re.S)
    return [" ".join(line.split()) for line in lines]


def test_the_history_reads_as_sentences_naming_the_account(
    app, db, client, make_user, make_beta, login
):
    pat = make_user(Role.PM)
    pat.name = "Pat"
    beta = make_beta(owner=pat, problem="Slow <b>answers</b>.")
    today = lifecycle.today_in(app.config["SHIPCALL"].zone)
    deadline = beta.decision_deadline
    pat_acts = Actor(pat)
    lifecycle.update_beta(db, pat_acts, beta, problem="Slow first answers.", today=today)
    lifecycle.launch(db, pat_acts, beta, today)
    lifecycle.extend(
        db,
        pat_acts,
        beta,
        new_deadline=deadline + timedelta(days=7),
        reason="Two calls left",
        today=today,
        max_extensions=2,
        max_days=30,
    )
    cohort = Cohort(beta=beta, slug="early", name="Early", kind=CohortKind.EARLY_ADOPTERS)
    db.add_all([cohort, Account(external_id="acme-42", name="Acme")])
    db.flush()
    memberships.enroll(db, pat_acts, beta, cohort, ["acme-42"], "asked twice", today)
    memberships.opt_out(db, pat_acts, beta, "acme-42")
    db.flush()
    login(pat)
    history = history_of(client.get(f"/betas/{beta.key}").get_data(as_text=True))
    assert history == [
        "Pat opted out acme-42",
        "Pat enrolled acme-42 in early: asked twice",
        f"Pat extended the deadline from {deadline} to {deadline + timedelta(days=7)}: "
        "Two calls left",
        f"Pat launched the beta, to decide by {deadline}",
        "Pat changed the problem from “Slow &lt;b&gt;answers&lt;/b&gt;.” to “Slow first answers.”",
    ]


def test_the_history_pages_newest_first_with_links_that_reload(db, client, make_beta, login):
    beta = make_beta()
    login(beta.owner)
    total = 2 * HISTORY_PAGE_SIZE + 3
    for n in range(total):
        record(db, Actor(beta.owner), "metric.removed", beta, beta=beta, name=f"m{n}")
    db.flush()
    page = f"/betas/{beta.key}"

    html = client.get(page).get_data(as_text=True)
    lines = history_of(html)
    assert len(lines) == HISTORY_PAGE_SIZE and lines[0].endswith(f"“m{total - 1}”")
    assert f'href="{page}?history=2#history" rel="next">Older</a>' in html
    assert 'rel="prev"' not in html

    html = client.get(f"{page}?history=2").get_data(as_text=True)
    lines = history_of(html)
    assert lines[0].endswith(f"“m{total - 1 - HISTORY_PAGE_SIZE}”")
    assert f'href="{page}#history" rel="prev">Newer</a>' in html
    assert f'href="{page}?history=3#history" rel="next">Older</a>' in html

    html = client.get(f"{page}?history=3").get_data(as_text=True)
    assert [line[-4:] for line in history_of(html)] == ["“m2”", "“m1”", "“m0”"]
    assert f'href="{page}?history=2#history" rel="prev">Newer</a>' in html
    assert 'rel="next"' not in html

    for odd in ["0", "-1", "many"]:
        assert history_of(client.get(f"{page}?history={odd}").get_data(as_text=True)) == (
            history_of(client.get(page).get_data(as_text=True))
        )
    assert "Nothing this far back." in client.get(f"{page}?history=9").get_data(as_text=True)


def nav_of(html: str) -> str:
    nav = html[html.index("<nav>") :]
    return nav[: nav.index("</nav>")]


def test_the_nav_marks_the_section_of_the_page(client, make_user, make_beta, login):
    login(make_user(Role.ADMIN))
    beta = make_beta()
    for path, section in [
        ("/", "Betas"),
        (f"/betas/{beta.key}", "Betas"),
        (f"/betas/{beta.key}/edit", "Betas"),
        ("/imports", "Import"),
        ("/accounts", "Accounts"),
        ("/betas/new", "Frame a beta"),
        ("/admin/users", "Users"),
        ("/admin/tokens", "API tokens"),
    ]:
        current = re.findall(
            r'<a href="[^"]*" aria-current="page">([^<]*)</a>',
            nav_of(client.get(path).get_data(as_text=True)),
        )
        assert current == [section], path


def test_the_empty_dashboard_says_what_to_do_first(client, make_user, login):
    login(make_user(Role.PM))
    html = client.get("/").get_data(as_text=True)
    steps = html[html.index('id="first-steps"') :]
    assert '<a href="/betas/new">Frame a beta</a>' in steps
    assert '<a href="/imports">Import accounts and conversations</a>' in steps
    main = html[html.index("<main>") :]
    assert main.count('href="/betas/new"') == 1  # the first step, not also a button above it


def test_the_empty_dashboard_tells_a_viewer_who_can_start(client, make_user, login):
    login(make_user(Role.VIEWER))
    html = client.get("/").get_data(as_text=True)
    steps = html[html.index('id="first-steps"') :]
    assert "PMs and admins frame betas and import accounts and conversations" in steps
    assert 'href="/betas/new"' not in html and 'href="/imports"' not in html


def test_counts_on_the_dashboard_and_a_betas_page_say_member_or_members(
    db, client, make_beta, login
):
    one = make_beta(key="one", state=BetaState.RUNNING, deadline=date.today() + timedelta(days=1))
    login(one.owner)
    add_members(db, one, 1)
    add_members(db, one, 2, slug="wave-2")
    add_members(db, one, 1, MembershipStatus.OPTED_OUT, slug="wave-2-out")
    db.add(Cohort(beta=one, slug="later", name="Later", kind=CohortKind.MANUAL))
    make_beta(key="late", state=BetaState.RUNNING, deadline=date.today() - timedelta(days=1))
    db.flush()
    dashboard = client.get("/").get_data(as_text=True)
    assert '<td class="num">3 active members</td>' in dashboard
    assert '<td class="num">0 active members</td>' in dashboard
    assert "1 day left" in dashboard and "overdue by 1 day<" in dashboard
    page = " ".join(client.get("/betas/one").get_data(as_text=True).split())
    assert "early adopters · 1 member: 1 active</span>" in page
    assert "early adopters · 2 members: 2 active</span>" in page
    assert "early adopters · 1 member: 1 opted out</span>" in page
    assert "manual · no members yet</span>" in page
    assert "Extend the deadline (2 extensions left of 2)" in page
    for days in (10, 20):
        lifecycle.extend(
            db,
            Actor(one.owner),
            one,
            new_deadline=date.today() + timedelta(days=days),
            reason="More calls",
            today=date.today(),
            max_extensions=2,
            max_days=30,
        )
    db.flush()
    page = " ".join(client.get("/betas/one").get_data(as_text=True).split())
    assert "No extension left (2 extensions allowed): it is time to decide." in page
