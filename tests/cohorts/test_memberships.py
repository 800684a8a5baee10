"""Cohorts and memberships: enrolling, opting out, moving, notices, invitations, histories."""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from betas import errors
from betas.audit import Actor
from betas.errors import Conflict, Forbidden
from betas.models import AuditEntry, BetaState, Risk, Role
from cohorts import memberships, roster, waves
from cohorts.models import CohortKind, Membership, MembershipStatus

TODAY = date.today()


def test_a_low_risk_beta_opts_accounts_in(db, running_beta, make_cohort, make_account):
    beta = running_beta()
    cohort = make_cohort(beta)
    a, b = make_account(), make_account()
    result = memberships.enroll(
        db, Actor(beta.owner), beta, cohort, [a.external_id, b.external_id], "asked", TODAY
    )
    assert result.enrolled == [a.external_id, b.external_id] and result.skipped == []
    statuses = {m.account.external_id: m.status for m in roster.members(db, beta)}
    assert set(statuses.values()) == {MembershipStatus.ACTIVE}
    assert {m.reason for m in roster.members(db, beta)} == {"asked"}


def test_a_high_risk_beta_invites_and_records_the_answer(
    db, running_beta, make_cohort, make_account, unchanged
):
    beta = running_beta(risk=Risk.HIGH)
    cohort = make_cohort(beta)
    yes, no = make_account(), make_account()
    memberships.enroll(
        db, Actor(beta.owner), beta, cohort, [yes.external_id, no.external_id], "r", TODAY
    )
    assert memberships.get_membership(db, beta, yes.external_id).status == MembershipStatus.INVITED
    memberships.record_response(
        db, Actor(beta.owner), beta, yes.external_id, accepted=True, today=TODAY
    )
    memberships.record_response(
        db, Actor(beta.owner), beta, no.external_id, accepted=False, today=TODAY
    )
    assert memberships.get_membership(db, beta, yes.external_id).status == MembershipStatus.ACTIVE
    assert memberships.get_membership(db, beta, no.external_id).status == MembershipStatus.DECLINED
    with unchanged(), pytest.raises(Conflict):
        memberships.record_response(
            db, Actor(beta.owner), beta, no.external_id, accepted=True, today=TODAY
        )


@pytest.mark.parametrize(
    ("state", "days", "code"),
    [
        (BetaState.DRAFT, 10, "beta_not_running"),
        (BetaState.DECIDED, 10, "beta_not_running"),
        (BetaState.RUNNING, -1, "beta_overdue"),
    ],
)
def test_enrolling_is_refused_unless_running_and_on_time(
    db, make_beta, make_cohort, make_account, state, days, code, unchanged
):
    beta = make_beta(state=state, deadline=TODAY + timedelta(days=days))
    cohort = make_cohort(beta)
    account = make_account()
    with unchanged(), pytest.raises(errors.DomainError) as refused:
        memberships.enroll(db, Actor(beta.owner), beta, cohort, [account.external_id], "r", TODAY)
    assert refused.value.code == code
    assert db.scalars(select(Membership)).all() == []


def test_only_the_owner_or_an_admin_enrolls(
    db, running_beta, make_cohort, make_account, make_user, unchanged
):
    beta = running_beta()
    other_pm, cohort, account = make_user(Role.PM), make_cohort(beta), make_account()
    with unchanged(), pytest.raises(Forbidden):
        memberships.enroll(db, Actor(other_pm), beta, cohort, [account.external_id], "r", TODAY)


def test_one_membership_per_account_per_beta(
    db, running_beta, make_cohort, make_account, unchanged
):
    beta = running_beta()
    first, second = make_cohort(beta, "first"), make_cohort(beta, "second")
    account = make_account()
    memberships.enroll(db, Actor(beta.owner), beta, first, [account.external_id], "r", TODAY)
    with unchanged():
        result = memberships.enroll(
            db, Actor(beta.owner), beta, second, [account.external_id], "r", TODAY
        )
    assert result.enrolled == []
    assert "already in this beta (First, active)" in result.skipped[0]["reason"]


def test_unknown_accounts_are_skipped_with_the_reason(db, running_beta, make_cohort, unchanged):
    beta = running_beta()
    cohort = make_cohort(beta)
    with unchanged():
        result = memberships.enroll(db, Actor(beta.owner), beta, cohort, ["ghost"], "r", TODAY)
    assert result.skipped == [{"account": "ghost", "reason": "no such account"}]


def test_opt_out_holds_against_bulk_enrollment(db, running_beta, make_cohort, make_account):
    beta = running_beta()
    cohort = make_cohort(beta)
    quitter, other = make_account(), make_account()
    owner = Actor(beta.owner)
    memberships.enroll(db, owner, beta, cohort, [quitter.external_id], "asked", TODAY)
    memberships.opt_out(db, owner, beta, quitter.external_id)
    result = memberships.enroll(
        db,
        owner,
        beta,
        make_cohort(beta, "wave-2"),
        [quitter.external_id, other.external_id],
        "bulk",
        TODAY,
    )
    assert result.enrolled == [other.external_id]
    assert "opted out" in result.skipped[0]["reason"]
    assert (
        memberships.get_membership(db, beta, quitter.external_id).status
        == MembershipStatus.OPTED_OUT
    )


def test_re_adding_an_opted_out_account_needs_confirmation_and_is_audited(
    db, running_beta, make_cohort, make_account, unchanged
):
    beta = running_beta()
    cohort = make_cohort(beta)
    account = make_account()
    owner = Actor(beta.owner)
    memberships.enroll(db, owner, beta, cohort, [account.external_id], "asked", TODAY)
    memberships.opt_out(db, owner, beta, account.external_id)
    with unchanged(), pytest.raises(memberships.OptedOut):
        memberships.place_member(db, owner, beta, account.external_id, cohort, "again", TODAY)
    memberships.place_member(
        db,
        owner,
        beta,
        account.external_id,
        cohort,
        "they asked back",
        TODAY,
        override_opt_out=True,
    )
    assert (
        memberships.get_membership(db, beta, account.external_id).status == MembershipStatus.ACTIVE
    )
    actions = db.scalars(select(AuditEntry.action).where(AuditEntry.beta_id == beta.id)).all()
    assert "member.readded_after_opt_out" in actions


def test_moving_to_another_cohort_is_explicit_and_audited(
    db, running_beta, make_cohort, make_account
):
    beta = running_beta()
    early, later = make_cohort(beta, "early"), make_cohort(beta, "later", CohortKind.MANUAL)
    account = make_account()
    owner = Actor(beta.owner)
    memberships.enroll(db, owner, beta, early, [account.external_id], "asked", TODAY)
    memberships.place_member(db, owner, beta, account.external_id, later, "fits wave 2", TODAY)
    membership = memberships.get_membership(db, beta, account.external_id)
    assert membership.cohort == later
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "member.moved"))
    assert entry.details == {"old": "early", "new": "later", "reason": "fits wave 2"}


def test_notices_are_recorded_for_active_members(db, running_beta, make_cohort, make_account):
    beta = running_beta()
    account = make_account()
    memberships.enroll(
        db, Actor(beta.owner), beta, make_cohort(beta), [account.external_id], "r", TODAY
    )
    [marked] = memberships.mark_notified(db, Actor(beta.owner), beta, [account.external_id])
    assert marked.notified_at is not None


def test_the_members_csv_has_what_the_messaging_tool_needs(
    db, running_beta, make_cohort, make_account
):
    beta = running_beta()
    account = make_account("=cmd|calc", "Acme, Inc.")
    memberships.enroll(
        db, Actor(beta.owner), beta, make_cohort(beta), [account.external_id], "r", TODAY
    )
    text = "".join(roster.members_csv(roster.members(db, beta), ZoneInfo("UTC")))
    header, row = text.splitlines()
    assert header == "account_id,name,cohort,status,enrolled_at,notified_at"
    assert row.startswith('\'=cmd|calc,"Acme, Inc.",early,active,')


def test_an_accounts_history_lists_its_betas_most_recent_first(
    db, running_beta, make_cohort, make_account
):
    account = make_account()
    old, new = running_beta(name="Old beta"), running_beta(name="New beta")
    memberships.enroll(
        db, Actor(old.owner), old, make_cohort(old), [account.external_id], "r", TODAY
    )
    memberships.enroll(
        db, Actor(new.owner), new, make_cohort(new), [account.external_id], "r", TODAY
    )
    history = roster.account_history(db, account)
    assert [m.beta.name for m in history] == ["New beta", "Old beta"]
    assert roster.other_running_betas(db, [account.id], new) == {account.id: [old.key]}


def test_cohorts_are_refused_on_an_overdue_beta(db, make_beta, unchanged):
    beta = make_beta(state=BetaState.RUNNING, deadline=TODAY - timedelta(days=1))
    with unchanged(), pytest.raises(errors.BetaOverdue):
        waves.create_cohort(
            db, Actor(beta.owner), beta, slug="wave-1", name="Wave 1", kind="manual", today=TODAY
        )


def test_cohort_slugs_are_unique_within_a_beta(db, running_beta, unchanged):
    beta = running_beta()
    owner = Actor(beta.owner)
    waves.create_cohort(db, owner, beta, slug="wave-1", name="Wave 1", kind="manual", today=TODAY)
    with unchanged(), pytest.raises(Conflict):
        waves.create_cohort(
            db, owner, beta, slug="wave-1", name="Again", kind="manual", today=TODAY
        )


def test_leaving_sets_left_at_and_rejoining_clears_it(db, running_beta, make_cohort, make_account):
    beta = running_beta(risk=Risk.HIGH)
    cohort = make_cohort(beta)
    for name in ("acme", "globex", "initech"):
        make_account(name)
    owner = Actor(beta.owner)
    memberships.enroll(db, owner, beta, cohort, ["acme", "globex", "initech"], "asked", TODAY)
    accepted = memberships.record_response(db, owner, beta, "acme", accepted=True, today=TODAY)
    declined = memberships.record_response(db, owner, beta, "globex", accepted=False, today=TODAY)
    out = memberships.opt_out(db, owner, beta, "initech", "busy")
    assert accepted.left_at is None
    assert declined.left_at is not None and out.left_at is not None
    back = memberships.place_member(
        db, owner, beta, "initech", cohort, "asked back", TODAY, override_opt_out=True
    )
    assert (back.status, back.left_at, back.opt_out_reason) == (
        MembershipStatus.INVITED,
        None,
        None,
    )


def test_an_opt_out_keeps_the_customers_reason_in_the_membership_and_the_audit(
    db, running_beta, make_cohort, make_account, unchanged
):
    beta = running_beta()
    account = make_account()
    owner = Actor(beta.owner)
    memberships.enroll(db, owner, beta, make_cohort(beta), [account.external_id], "r", TODAY)
    with unchanged(), pytest.raises(errors.Invalid):
        memberships.opt_out(db, owner, beta, account.external_id, "x" * 10_001)
    out = memberships.opt_out(db, owner, beta, account.external_id, "  switched tools ")
    assert out.opt_out_reason == "switched tools"
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "member.opted_out"))
    assert entry.details == {"old": "active", "reason": "switched tools"}


@pytest.mark.parametrize(
    ("state", "days", "code"),
    [(BetaState.DECIDED, 10, "beta_not_running"), (BetaState.RUNNING, -1, "beta_overdue")],
)
def test_an_acceptance_is_refused_unless_running_and_on_time_but_a_refusal_is_kept(
    db, running_beta, make_cohort, make_account, state, days, code, unchanged
):
    beta = running_beta(risk=Risk.HIGH)
    cohort = make_cohort(beta)
    yes, no = make_account(), make_account()
    ids = [yes.external_id, no.external_id]
    memberships.enroll(db, Actor(beta.owner), beta, cohort, ids, "r", TODAY)
    beta.state, beta.decision_deadline = state, TODAY + timedelta(days=days)
    with unchanged(), pytest.raises(errors.DomainError) as refused:
        memberships.record_response(
            db, Actor(beta.owner), beta, yes.external_id, accepted=True, today=TODAY
        )
    assert refused.value.code == code
    memberships.record_response(
        db, Actor(beta.owner), beta, no.external_id, accepted=False, today=TODAY
    )
    assert memberships.get_membership(db, beta, no.external_id).status == MembershipStatus.DECLINED
