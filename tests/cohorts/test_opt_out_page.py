"""The opt-out page: confirmed first, for good, with the customer's reason; shown on the account."""

from datetime import date

import pytest
from sqlalchemy import select

from betas.audit import Actor
from betas.models import AuditEntry, Role
from cohorts import memberships
from cohorts.models import MembershipStatus

TODAY = date.today()


def enrolled(db, beta, cohort, *ids):
    memberships.enroll(db, Actor(beta.owner), beta, cohort, ids, "asked", TODAY)


def test_the_cohort_page_asks_to_confirm_an_opt_out_before_doing_it(
    db, client, running_beta, make_cohort, make_account, login, unchanged
):
    beta = running_beta()
    make_account("acme", "Acme")
    enrolled(db, beta, make_cohort(beta), "acme")
    login(beta.owner)
    url = f"/betas/{beta.key}/members/acme/opt-out"
    cohort_page = client.get(f"/betas/{beta.key}/cohorts/early").get_data(as_text=True)
    # A link to the confirmation, not a button that opts out at once.
    assert f'<a href="{url}">Opt out…</a>' in cohort_page
    assert f'action="{url}"' not in cohort_page
    with unchanged():
        response = client.get(url)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "for good" in html and "adding it back needs an explicit confirmation" in html
    assert 'name="reason"' in html and "Reason (optional)" in html
    assert f'action="{url}#opt-out-form"' in html and 'id="opt-out-form"' in html
    assert memberships.get_membership(db, beta, "acme").status == MembershipStatus.ACTIVE


def test_confirming_opts_out_with_the_reason_kept_audited_and_shown(
    db, client, running_beta, make_cohort, make_account, login, post
):
    beta = running_beta()
    make_account("acme", "Acme")
    enrolled(db, beta, make_cohort(beta), "acme")
    login(beta.owner)
    url = f"/betas/{beta.key}/members/acme/opt-out"
    response = post(url, {"reason": "  Too busy this quarter  "}, token_from=url)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/betas/{beta.key}/cohorts/early"
    membership = memberships.get_membership(db, beta, "acme")
    db.refresh(membership)
    assert membership.status == MembershipStatus.OPTED_OUT
    assert membership.opt_out_reason == "Too busy this quarter"
    assert membership.left_at is not None
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "member.opted_out"))
    assert entry.details == {"old": "active", "reason": "Too busy this quarter"}
    account_page = client.get("/accounts/acme").get_data(as_text=True)
    assert "Too busy this quarter" in account_page


def test_an_opt_out_without_a_reason_keeps_none(
    db, client, running_beta, make_cohort, make_account, login, post
):
    beta = running_beta()
    make_account("acme")
    enrolled(db, beta, make_cohort(beta), "acme")
    login(beta.owner)
    url = f"/betas/{beta.key}/members/acme/opt-out"
    assert post(url, {"reason": ""}, token_from=url).status_code == 302
    membership = memberships.get_membership(db, beta, "acme")
    db.refresh(membership)
    assert (membership.status, membership.opt_out_reason) == (MembershipStatus.OPTED_OUT, None)


def test_a_reason_too_long_is_refused_and_changes_nothing(
    db, client, running_beta, make_cohort, make_account, login, post, unchanged
):
    beta = running_beta()
    make_account("acme")
    enrolled(db, beta, make_cohort(beta), "acme")
    login(beta.owner)
    url = f"/betas/{beta.key}/members/acme/opt-out"
    with unchanged():
        response = post(url, {"reason": "x" * 10_001}, token_from=url)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'class="error-summary"' in html and 'href="#reason"' in html


def test_the_opt_out_page_of_an_account_opted_out_already_says_so(
    db, client, running_beta, make_cohort, make_account, login
):
    beta = running_beta()
    make_account("acme")
    enrolled(db, beta, make_cohort(beta), "acme")
    memberships.opt_out(db, Actor(beta.owner), beta, "acme", "moved to a rival")
    login(beta.owner)
    html = client.get(f"/betas/{beta.key}/members/acme/opt-out").get_data(as_text=True)
    assert "acme opted out on" in html and "moved to a rival" in html
    assert 'id="opt-out-form"' not in html


def test_the_opt_out_page_is_only_for_the_betas_members(
    db, client, running_beta, make_cohort, login, post, unchanged
):
    beta = running_beta()
    make_cohort(beta)
    login(beta.owner)
    url = f"/betas/{beta.key}/members/ghost/opt-out"
    with unchanged():
        assert client.get(url).status_code == 404
        assert (
            post(url, {"reason": "r"}, token_from=f"/betas/{beta.key}/cohorts").status_code == 404
        )


@pytest.mark.parametrize("role", [Role.VIEWER, Role.PM])
def test_only_those_who_may_change_the_beta_reach_its_opt_out(
    db, client, running_beta, make_cohort, make_account, make_user, login, post, unchanged, role
):
    beta = running_beta()
    make_account("acme")
    enrolled(db, beta, make_cohort(beta), "acme")
    url = f"/betas/{beta.key}/members/acme/opt-out"
    login(make_user(role))  # a viewer, or a PM who does not own the beta
    with unchanged():
        assert client.get(url).status_code == 403
        assert post(url, {"reason": "r"}).status_code == 403


def test_the_account_page_says_when_it_left_each_beta(
    db, client, running_beta, make_cohort, make_account, login
):
    beta = running_beta(name="Inbox reports")
    make_account("acme")
    enrolled(db, beta, make_cohort(beta), "acme")
    out = memberships.opt_out(db, Actor(beta.owner), beta, "acme")
    login(beta.owner)
    html = client.get("/accounts/acme").get_data(as_text=True)
    assert "<th>Left</th>" in html
    left = out.left_at.astimezone(client.application.config["SHIPCALL"].zone)
    assert left.strftime("%Y-%m-%d %H:%M") in html
