"""Cohort pages: add a wave, enroll by hand, notices, invitations, opt-out, move, CSV, accounts."""

from datetime import date, timedelta

from sqlalchemy import select

from betas.audit import Actor
from betas.models import BetaState, Risk, Role
from cohorts import memberships, roster
from cohorts.models import Cohort, MembershipStatus


def test_a_pm_adds_a_cohort_and_enrolls_accounts_by_hand(
    db, client, running_beta, make_account, login, post
):
    beta = running_beta()
    login(beta.owner)
    a, b = make_account("acme"), make_account("globex")
    response = post(
        f"/betas/{beta.key}/cohorts",
        {"name": "Early adopters", "slug": "early", "kind": "early_adopters", "planned_size": "20"},
    )
    assert response.status_code == 302
    response = post(
        f"/betas/{beta.key}/cohorts/early/members",
        {"accounts": "acme\nglobex, ghost", "reason": "asked on the Q3 call"},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "Enrolled 2 accounts." in html and "Skipped ghost: no such account." in html
    assert "asked on the Q3 call" in html
    assert {m.account for m in roster.members(db, beta)} == {a, b}


def test_a_cohort_form_keeps_what_was_typed(db, client, running_beta, login, post, unchanged):
    beta = running_beta()
    login(beta.owner)
    with unchanged():
        response = post(
            f"/betas/{beta.key}/cohorts", {"name": "Wave one", "slug": "Wave One", "kind": "manual"}
        )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="Wave one"' in html and "Use lower-case letters" in html
    assert db.scalars(select(Cohort)).all() == []


def test_an_overdue_beta_refuses_new_members_with_the_reason(
    db, client, make_beta, make_cohort, make_account, login, post, unchanged
):
    beta = make_beta(state=BetaState.RUNNING, deadline=date.today() - timedelta(days=1))
    make_cohort(beta)
    login(beta.owner)
    make_account("acme")
    with unchanged():
        response = post(
            f"/betas/{beta.key}/cohorts/early/members", {"accounts": "acme", "reason": "asked"}
        )
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "passed its decision deadline" in html and "Overdue:" in html
    assert roster.members(db, beta) == []


def test_notices_invitations_opt_out_and_moves_from_the_cohort_page(
    db, client, running_beta, make_cohort, make_account, login, post
):
    beta = running_beta(risk=Risk.HIGH)
    early = make_cohort(beta, "early")
    make_cohort(beta, "later")
    for name in ("acme", "globex", "initech"):
        make_account(name)
    memberships.enroll(
        db, Actor(beta.owner), beta, early, ["acme", "globex", "initech"], "asked", date.today()
    )
    login(beta.owner)
    page = f"/betas/{beta.key}/cohorts/early"
    assert post(f"/betas/{beta.key}/members/acme/accept", token_from=page).status_code == 302
    assert post(f"/betas/{beta.key}/members/globex/decline", token_from=page).status_code == 302
    assert post(f"/betas/{beta.key}/members/initech/opt-out", token_from=page).status_code == 302
    post(f"/betas/{beta.key}/members/acme/move", {"cohort": "later"}, token_from=page)
    db.expire_all()
    status = {m.account.external_id: (m.status, m.cohort.slug) for m in roster.members(db, beta)}
    assert status == {
        "acme": (MembershipStatus.ACTIVE, "later"),
        "globex": (MembershipStatus.DECLINED, "early"),
        "initech": (MembershipStatus.OPTED_OUT, "early"),
    }


def test_a_viewer_sees_cohorts_but_cannot_change_them(
    db, client, running_beta, make_cohort, make_user, login, post, unchanged
):
    beta = running_beta()
    make_cohort(beta)
    login(make_user(Role.VIEWER))
    assert client.get(f"/betas/{beta.key}/cohorts/early").status_code == 200
    page = f"/betas/{beta.key}/cohorts/early"
    with unchanged():
        response = post(
            f"/betas/{beta.key}/cohorts/early/members",
            {"accounts": "x", "reason": "y"},
            token_from=page,
        )
    assert response.status_code == 403
    with unchanged():
        response = post(
            f"/betas/{beta.key}/cohorts",
            {"name": "W", "slug": "w", "kind": "manual"},
            token_from=page,
        )
    assert response.status_code == 403


def test_members_export_as_csv(db, client, running_beta, make_cohort, make_account, login):
    beta = running_beta()
    make_account("acme", "Acme")
    memberships.enroll(db, Actor(beta.owner), beta, make_cohort(beta), ["acme"], "r", date.today())
    login(beta.owner)
    response = client.get(f"/betas/{beta.key}/members.csv")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.get_data(as_text=True).splitlines()[1].startswith("acme,Acme,early,active,")


def test_an_account_page_shows_its_beta_history(
    db, client, running_beta, make_cohort, make_account, make_user, login
):
    account = make_account("acme/eu", "Acme <EU>", plan="pro")
    beta = running_beta(name="Inbox reports")
    memberships.enroll(
        db, Actor(beta.owner), beta, make_cohort(beta), ["acme/eu"], "asked twice", date.today()
    )
    login(make_user(Role.VIEWER))
    html = client.get("/accounts/acme/eu").get_data(as_text=True)
    assert "Inbox reports" in html and "asked twice" in html and "pro" in html
    assert "Acme &lt;EU&gt;" in html
    listing = client.get("/accounts?q=acme").get_data(as_text=True)
    assert "acme/eu" in listing
    assert account.external_id in listing


def enroll_many(db, beta, cohort, make_account, count):
    ids = [make_account().external_id for _ in range(count)]
    memberships.enroll(db, Actor(beta.owner), beta, cohort, ids, "asked", date.today())
    db.flush()


def test_the_cohort_pages_statements_do_not_grow_with_its_members(
    db, client, running_beta, make_cohort, make_account, login, count_queries
):
    beta = running_beta()
    cohort = make_cohort(beta)
    login(beta.owner)
    enroll_many(db, beta, cohort, make_account, 1)
    with count_queries() as one:
        assert client.get(f"/betas/{beta.key}/cohorts/early").status_code == 200
    enroll_many(db, beta, cohort, make_account, 30)
    with count_queries() as many:
        assert client.get(f"/betas/{beta.key}/cohorts/early").status_code == 200
    assert 0 < many.n == one.n


def headcount_of(html: str) -> str:
    start = html.index('id="headcount">') + len('id="headcount">')
    return " ".join(html[start : html.index("</p>", start)].split())


def test_the_header_counts_active_members_and_says_who_else_is_there(
    db, client, running_beta, make_cohort, make_account, login
):
    beta = running_beta(risk=Risk.HIGH)
    cohort = make_cohort(beta)
    cohort.planned_size = 20
    ids = [make_account().external_id for _ in range(5)]
    owner = Actor(beta.owner)
    memberships.enroll(db, owner, beta, cohort, ids, "asked", date.today())
    memberships.record_response(db, owner, beta, ids[0], accepted=True, today=date.today())
    memberships.record_response(db, owner, beta, ids[1], accepted=False, today=date.today())
    memberships.opt_out(db, owner, beta, ids[2])
    login(beta.owner)
    html = client.get(f"/betas/{beta.key}/cohorts/early").get_data(as_text=True)
    # Invited members count against the planned size: they may still join.
    assert headcount_of(html).startswith(
        "1 active member, 2 invited, 1 opted out, 1 declined. 3 of 20 planned (active and invited)."
    )
    memberships.record_response(db, owner, beta, ids[3], accepted=True, today=date.today())
    memberships.opt_out(db, owner, beta, ids[4])
    html = client.get(f"/betas/{beta.key}/cohorts/early").get_data(as_text=True)
    assert headcount_of(html).startswith("2 active members, 2 opted out, 1 declined. 2 of 20")


def test_the_cohorts_list_says_its_members_in_words(
    db, client, running_beta, make_cohort, make_account, login
):
    beta = running_beta()
    early, later = make_cohort(beta, "early"), make_cohort(beta, "later")
    make_cohort(beta, "empty")
    enroll_many(db, beta, early, make_account, 1)
    enroll_many(db, beta, later, make_account, 3)
    memberships.opt_out(
        db, Actor(beta.owner), beta, roster.members(db, beta, later)[0].account.external_id
    )
    login(beta.owner)
    html = client.get(f"/betas/{beta.key}/cohorts").get_data(as_text=True)
    rows = html[html.index('id="cohorts"') :]
    assert "1 active member<" in rows and "2 active members, 1 opted out" in rows
    assert "none yet" in rows


def test_notices_are_labelled_as_actions_and_shown_as_states(
    db, client, running_beta, make_cohort, make_account, login, post
):
    beta = running_beta()
    cohort = make_cohort(beta)
    ids = [make_account().external_id for _ in range(3)]
    memberships.enroll(db, Actor(beta.owner), beta, cohort, ids, "asked", date.today())
    login(beta.owner)
    page = f"/betas/{beta.key}/cohorts/early"
    html = client.get(page).get_data(as_text=True)
    assert ">Mark all 3 as notified<" in html
    assert html.count(">Mark as notified<") == 3 and html.count("not notified yet") == 3
    assert ">Notified<" not in html
    post(f"/betas/{beta.key}/members/{ids[0]}/notify", token_from=page)
    html = client.get(page).get_data(as_text=True)
    notified = memberships.get_membership(db, beta, ids[0]).notified_at
    day = notified.astimezone(client.application.config["SHIPCALL"].zone).strftime("%Y-%m-%d")
    assert "notified <time" in html and f">{day}</time>" in html
    assert ">Mark all 2 as notified<" in html and html.count("not notified yet") == 2
    post(f"/betas/{beta.key}/cohorts/early/notify", token_from=page)
    html = client.get(page).get_data(as_text=True)
    assert "as notified<" not in html and "not notified yet" not in html


def test_the_cohort_forms_open_with_a_summary_and_post_to_themselves(
    db, client, running_beta, make_cohort, login, post, unchanged
):
    beta = running_beta()
    make_cohort(beta)
    login(beta.owner)
    with unchanged():
        failed = post(f"/betas/{beta.key}/cohorts/early/members", {"accounts": "", "reason": ""})
    html = failed.get_data(as_text=True)
    assert failed.status_code == 422
    assert 'href="#accounts"' in html and 'href="#reason"' in html and "Fix 2 problems" in html
    assert 'id="add-members-form"' in html
    assert f'action="/betas/{beta.key}/cohorts/early/members#add-members-form"' in html
    with unchanged():
        failed = post(f"/betas/{beta.key}/cohorts", {"name": "", "slug": "w", "kind": "manual"})
    html = failed.get_data(as_text=True)
    assert failed.status_code == 422
    assert 'class="error-summary"' in html and 'href="#name"' in html
    assert f'action="/betas/{beta.key}/cohorts#cohort-form"' in html and 'id="cohort-form"' in html


def test_enrolling_by_hand_lands_at_the_top_of_the_cohort_page_where_the_flashes_are(
    db, client, running_beta, make_cohort, make_account, login, post
):
    beta = running_beta()
    make_cohort(beta)
    make_account("acme")
    login(beta.owner)
    response = post(
        f"/betas/{beta.key}/cohorts/early/members", {"accounts": "acme", "reason": "asked"}
    )
    assert response.status_code == 302
    # Not the #add-members-form the form posted to, which the browser would keep.
    assert response.headers["Location"] == f"/betas/{beta.key}/cohorts/early#cohort"
    assert 'class="heading" id="cohort"' in client.get(response.headers["Location"]).get_data(
        as_text=True
    )


def test_the_add_members_url_opened_again_lands_on_the_cohort_page(
    client, running_beta, make_cohort, login
):
    beta = running_beta()
    make_cohort(beta)
    login(beta.owner)
    response = client.get(f"/betas/{beta.key}/cohorts/early/members")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/betas/{beta.key}/cohorts/early"
