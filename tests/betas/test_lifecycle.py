"""The rules of a beta's life: framing, launch checks, overdue, extensions, and their audit."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from betas import lifecycle, metrics
from betas.audit import Actor, beta_history
from betas.errors import Conflict, ExtensionRefused, Forbidden, Invalid, LaunchRefused
from betas.models import AuditEntry, Beta, BetaState, Role, SuccessMetric

TODAY = date(2026, 11, 23)


def actor(user):
    return Actor(user)


def test_a_pm_frames_a_draft_and_owns_it(db, make_user):
    pm = make_user(Role.PM)
    beta = lifecycle.create_beta(
        db,
        actor(pm),
        "inbox-reports",
        name="Inbox reports",
        business_outcomes=["retention"],
        today=TODAY,
    )
    assert (beta.state, beta.owner, beta.business_outcomes) == (BetaState.DRAFT, pm, ["retention"])
    assert [e.action for e in beta_history(db, beta).entries] == ["beta.created"]


def test_viewers_cannot_frame_betas(db, make_user, unchanged):
    viewer = make_user(Role.VIEWER)
    with unchanged(), pytest.raises(Forbidden):
        lifecycle.create_beta(db, actor(viewer), "x", name="X", today=TODAY)


@pytest.mark.parametrize("key", ["Inbox", "inbox reports", "-inbox", "inbox--x", "", "ö"])
def test_a_key_is_a_slug(db, make_user, key, unchanged):
    pm = make_user()
    with unchanged(), pytest.raises(Invalid) as refused:
        lifecycle.create_beta(db, actor(pm), key, name="X", today=TODAY)
    assert refused.value.details[0]["field"] == "key"


def test_a_taken_key_is_a_conflict(db, make_user, make_beta, unchanged):
    make_beta(key="inbox-reports")
    pm = make_user()
    with unchanged(), pytest.raises(Conflict):
        lifecycle.create_beta(db, actor(pm), "inbox-reports", name="Again", today=TODAY)


def test_a_viewer_cannot_own_a_beta(db, make_user, unchanged):
    pm, viewer = make_user(), make_user(Role.VIEWER)
    with unchanged(), pytest.raises(Invalid) as refused:
        lifecycle.create_beta(db, actor(pm), "x", name="X", owner=viewer, today=TODAY)
    assert refused.value.details[0]["field"] == "owner"


def test_only_the_owner_or_an_admin_edits(db, make_user, make_beta, unchanged):
    beta = make_beta()
    other_pm = make_user(Role.PM)
    with unchanged(), pytest.raises(Forbidden):
        lifecycle.update_beta(db, actor(other_pm), beta, name="Mine now", today=TODAY)
    lifecycle.update_beta(db, actor(make_user(Role.ADMIN)), beta, name="Renamed", today=TODAY)
    assert beta.name == "Renamed"


def test_an_edit_records_what_changed(db, make_beta):
    beta = make_beta(name="Old")
    lifecycle.update_beta(
        db, actor(beta.owner), beta, name="New", problem=beta.problem, today=TODAY
    )
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "beta.updated"))
    assert entry.details == {"changes": {"name": ["Old", "New"]}}
    assert entry.user == beta.owner


def test_launch_is_refused_with_everything_missing(db, make_beta, unchanged):
    beta = make_beta(framed=False, deadline=TODAY - timedelta(days=1))
    with unchanged(), pytest.raises(LaunchRefused) as refused:
        lifecycle.launch(db, actor(beta.owner), beta, TODAY)
    fields = [d["field"] for d in refused.value.details]
    assert fields == ["problem", "learning_goals", "metrics", "decision_deadline"]
    assert beta.state == BetaState.DRAFT


def test_launch_needs_a_deadline(db, make_beta, unchanged):
    beta = make_beta()
    beta.decision_deadline = None
    with unchanged(), pytest.raises(LaunchRefused) as refused:
        lifecycle.launch(db, actor(beta.owner), beta, TODAY)
    assert refused.value.details == [
        {"field": "decision_deadline", "message": "Set a decision deadline."}
    ]


def test_a_framed_beta_launches_and_is_recorded(db, make_beta, unchanged):
    beta = make_beta(deadline=TODAY)
    lifecycle.launch(db, actor(beta.owner), beta, TODAY)
    assert beta.state == BetaState.RUNNING and beta.launched_at is not None
    assert beta_history(db, beta).entries[0].action == "beta.launched"
    with unchanged(), pytest.raises(Conflict):
        lifecycle.launch(db, actor(beta.owner), beta, TODAY)


def test_framing_refuses_a_deadline_that_has_passed_as_launch_does(db, make_beta, unchanged):
    draft = make_beta(framed=False)
    yesterday = TODAY - timedelta(days=1)
    passed = {
        "field": "decision_deadline",
        "message": "The decision deadline 2026-11-22 has passed; choose today or later.",
    }
    with unchanged(), pytest.raises(Invalid) as refused:
        lifecycle.create_beta(
            db, actor(draft.owner), "x", name="X", decision_deadline=yesterday, today=TODAY
        )
    assert refused.value.details == [passed]
    with unchanged(), pytest.raises(Invalid) as refused:
        lifecycle.update_beta(
            db, actor(draft.owner), draft, decision_deadline=yesterday, today=TODAY
        )
    assert refused.value.details == [passed]
    draft.decision_deadline = yesterday
    with unchanged(), pytest.raises(LaunchRefused) as refused:
        lifecycle.launch(db, actor(draft.owner), draft, TODAY)
    assert passed in refused.value.details
    lifecycle.update_beta(db, actor(draft.owner), draft, decision_deadline=TODAY, today=TODAY)
    assert draft.decision_deadline == TODAY


def test_a_deleted_draft_goes_with_its_metrics_and_the_audit_keeps_a_line(db, make_beta):
    beta = make_beta(key="old-idea", name="Old idea")
    lifecycle.update_beta(db, actor(beta.owner), beta, name="Older idea", today=TODAY)
    lifecycle.delete_beta(db, actor(beta.owner), beta)
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Beta)) == 0
    assert db.scalar(select(func.count()).select_from(SuccessMetric)) == 0
    entries = db.scalars(select(AuditEntry).where(AuditEntry.object_id == "old-idea")).all()
    assert [(e.action, e.beta_id, e.details) for e in entries] == [
        ("beta.deleted", None, {"name": "Older idea"})
    ]
    assert entries[0].user == beta.owner


@pytest.mark.parametrize("state", [BetaState.RUNNING, BetaState.DECIDED])
def test_a_launched_beta_cannot_be_deleted(db, make_beta, state, unchanged):
    beta = make_beta(name="Inbox reports", state=state)
    with unchanged(), pytest.raises(Conflict) as refused:
        lifecycle.delete_beta(db, actor(beta.owner), beta)
    assert refused.value.message == (
        f"Inbox reports is {state.value}: a launched beta is part of the record, so it cannot be "
        "deleted."
    )


def test_only_the_owner_or_an_admin_deletes_a_draft(db, make_user, make_beta, unchanged):
    beta, other_pm = make_beta(), make_user(Role.PM)
    with unchanged(), pytest.raises(Forbidden):
        lifecycle.delete_beta(db, actor(other_pm), beta)


def test_key_and_deadline_are_fixed_once_launched(db, make_beta, unchanged):
    beta = make_beta(state=BetaState.RUNNING)
    with unchanged(), pytest.raises(Conflict) as refused:
        lifecycle.update_beta(db, actor(beta.owner), beta, key="other-key", today=TODAY)
    assert refused.value.details[0]["field"] == "key"
    with unchanged(), pytest.raises(Conflict):
        lifecycle.update_beta(
            db,
            actor(beta.owner),
            beta,
            decision_deadline=beta.decision_deadline + timedelta(1),
            today=TODAY,
        )


def test_a_launched_beta_keeps_what_launch_required(db, make_beta, unchanged):
    beta = make_beta(state=BetaState.RUNNING)
    with unchanged(), pytest.raises(Invalid) as refused:
        lifecycle.update_beta(
            db, actor(beta.owner), beta, problem="  ", learning_goals="", today=TODAY
        )
    assert [d["field"] for d in refused.value.details] == ["problem", "learning_goals"]
    assert "Launch required the problem and the learning goals" in refused.value.message
    lifecycle.update_beta(
        db, actor(beta.owner), beta, problem="Reworded.", learning_goals="Why?", today=TODAY
    )
    assert (beta.problem, beta.learning_goals) == ("Reworded.", "Why?")


def test_a_draft_may_clear_its_problem(db, make_beta):
    beta = make_beta()
    lifecycle.update_beta(db, actor(beta.owner), beta, problem="", today=TODAY)
    assert beta.problem == ""


def test_a_draft_may_change_its_key(db, make_beta):
    beta = make_beta(key="first")
    lifecycle.update_beta(db, actor(beta.owner), beta, key="second", today=TODAY)
    assert lifecycle.get_beta(db, "second") is beta


def test_overdue_starts_when_the_deadline_day_ends(make_beta):
    beta = make_beta(state=BetaState.RUNNING, deadline=TODAY)
    assert not lifecycle.is_overdue(beta, TODAY)
    assert lifecycle.is_overdue(beta, TODAY + timedelta(days=1))
    beta.state = BetaState.DRAFT
    assert not lifecycle.is_overdue(beta, TODAY + timedelta(days=1))


def test_the_deadline_day_is_read_in_the_configured_zone():
    late_evening_in_new_york = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    assert lifecycle.today_in(ZoneInfo("UTC"), late_evening_in_new_york) == date(2026, 11, 24)
    assert lifecycle.today_in(ZoneInfo("America/New_York"), late_evening_in_new_york) == TODAY


def test_an_extension_moves_the_deadline_with_a_reason(db, make_beta):
    beta = make_beta(state=BetaState.RUNNING, deadline=TODAY - timedelta(days=3))
    assert lifecycle.is_overdue(beta, TODAY)
    new = TODAY + timedelta(days=14)
    lifecycle.extend(
        db,
        actor(beta.owner),
        beta,
        new_deadline=new,
        reason="Waiting on 3 calls",
        today=TODAY,
        max_extensions=2,
        max_days=30,
    )
    assert beta.decision_deadline == new and not lifecycle.is_overdue(beta, TODAY)
    assert (beta.extensions[0].old_deadline, beta.extensions[0].reason) == (
        TODAY - timedelta(days=3),
        "Waiting on 3 calls",
    )
    assert beta_history(db, beta).entries[0].details["reason"] == "Waiting on 3 calls"


def test_extensions_are_limited(db, make_beta, unchanged):
    beta = make_beta(state=BetaState.RUNNING, deadline=TODAY)
    for days in (7, 14):
        lifecycle.extend(
            db,
            actor(beta.owner),
            beta,
            new_deadline=TODAY + timedelta(days),
            reason="More",
            today=TODAY,
            max_extensions=2,
            max_days=30,
        )
    with unchanged(), pytest.raises(ExtensionRefused, match="2 of 2"):
        lifecycle.extend(
            db,
            actor(beta.owner),
            beta,
            new_deadline=TODAY + timedelta(30),
            reason="More",
            today=TODAY,
            max_extensions=2,
            max_days=30,
        )


@pytest.mark.parametrize(
    ("days", "reason", "field"),
    [(5, "  ", "reason"), (0, "Because", "new_deadline"), (-1, "Because", "new_deadline")],
)
def test_an_extension_needs_a_reason_and_a_later_date(
    db, make_beta, days, reason, field, unchanged
):
    beta = make_beta(state=BetaState.RUNNING, deadline=TODAY)
    with unchanged(), pytest.raises(Invalid) as refused:
        lifecycle.extend(
            db,
            actor(beta.owner),
            beta,
            new_deadline=TODAY + timedelta(days),
            reason=reason,
            today=TODAY,
            max_extensions=2,
            max_days=30,
        )
    assert refused.value.details[0]["field"] == field
    assert beta.extensions == []


def test_a_draft_is_not_extended(db, make_beta, unchanged):
    beta = make_beta()
    with unchanged(), pytest.raises(ExtensionRefused):
        lifecycle.extend(
            db,
            actor(beta.owner),
            beta,
            new_deadline=TODAY + timedelta(60),
            reason="x",
            today=TODAY,
            max_extensions=2,
            max_days=30,
        )


def test_percent_targets_stay_within_0_and_100(db, make_beta, unchanged):
    beta = make_beta()
    with unchanged(), pytest.raises(Invalid):
        metrics.add_metric(
            db,
            actor(beta.owner),
            beta,
            name="Too much",
            stage="adoption",
            target=120,
            unit="percent",
        )
    metric = metrics.add_metric(
        db,
        actor(beta.owner),
        beta,
        name="Switch back",
        stage="custom",
        target=10,
        unit="percent",
        direction="at_most",
    )
    assert metrics.describe_target(metric) == "at most 10% of enrolled accounts"


def test_metrics_are_removed_only_from_drafts(db, make_beta, unchanged):
    beta = make_beta()
    metric_id = beta.metrics[0].id
    beta.state = BetaState.RUNNING
    with unchanged(), pytest.raises(Conflict):
        metrics.remove_metric(db, actor(beta.owner), beta, metric_id)
    beta.state = BetaState.DRAFT
    metrics.remove_metric(db, actor(beta.owner), beta, metric_id)
    assert beta.metrics == []


def test_the_dashboard_puts_the_most_urgent_first(make_beta):
    draft = make_beta(key="draft", deadline=TODAY + timedelta(2))
    late = make_beta(key="late", state=BetaState.RUNNING, deadline=TODAY - timedelta(1))
    soon = make_beta(key="soon", state=BetaState.RUNNING, deadline=TODAY + timedelta(3))
    later = make_beta(key="later", state=BetaState.RUNNING, deadline=TODAY + timedelta(9))
    decided = make_beta(key="decided", state=BetaState.DECIDED, deadline=TODAY - timedelta(9))
    ordered = sorted([draft, decided, later, soon, late], key=lambda b: lifecycle.urgency(b, TODAY))
    assert [b.key for b in ordered] == ["late", "soon", "later", "draft", "decided"]


def extend_by(db, beta, new_deadline, max_days=30):
    return lifecycle.extend(
        db,
        actor(beta.owner),
        beta,
        new_deadline=new_deadline,
        reason="Two calls left",
        today=TODAY,
        max_extensions=2,
        max_days=max_days,
    )


def test_an_extension_moves_the_deadline_at_most_max_days(db, make_beta, unchanged):
    beta = make_beta(state=BetaState.RUNNING, deadline=TODAY)
    with unchanged(), pytest.raises(Invalid, match="at most 30 days") as refused:
        extend_by(db, beta, TODAY + timedelta(days=31))
    assert refused.value.details == [
        {
            "field": "new_deadline",
            "message": f"At most 30 days past {TODAY}: {TODAY + timedelta(days=30)} or earlier.",
        }
    ]
    extend_by(db, beta, TODAY + timedelta(days=30))
    assert beta.decision_deadline == TODAY + timedelta(days=30)


def test_the_days_are_counted_from_the_current_deadline_not_from_today(db, make_beta, unchanged):
    beta = make_beta(state=BetaState.RUNNING, deadline=TODAY - timedelta(days=4))
    with unchanged(), pytest.raises(Invalid, match="at most 7 days"):
        extend_by(db, beta, TODAY + timedelta(days=4), max_days=7)
    extend_by(db, beta, TODAY + timedelta(days=3), max_days=7)
    assert beta.decision_deadline == TODAY + timedelta(days=3)


def test_a_beta_overdue_longer_than_an_extension_may_add_must_decide(db, make_beta, unchanged):
    beta = make_beta(state=BetaState.RUNNING, deadline=TODAY - timedelta(days=8))
    with unchanged(), pytest.raises(ExtensionRefused, match="8 days past its deadline"):
        extend_by(db, beta, TODAY, max_days=7)
    assert beta.extensions == []
