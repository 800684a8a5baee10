"""The hub pages: the dashboard and a beta's page, what they show and what they cost."""

from datetime import date, timedelta

from betas.models import BetaState, Role
from betas.web import LAUNCH_REQUIREMENTS
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
    assert '<td class="num">3</td>' in row[: row.index("</tr>")]
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
