"""The ship / no-ship call's rules, on the plain values the roof hands the core."""

from datetime import date

import pytest

from betas import decisions
from betas.audit import Actor
from betas.decisions import Waivable, Waiver
from betas.errors import BetaNotRunning, BlockersOpen, Conflict, Forbidden, Invalid, NotMeasured
from betas.models import BetaState, Role

ANSWERS = {"solved": "Yes.", "replaces_existing": "The old export, and better.", "marketing": "No."}
BLOCKER = Waivable("feedback", 7, "#7 from acme: It breaks.")
UNMEASURED = Waivable("metric", 3, "Scheduling")
SNAPSHOT = {"recommendation": {"verdict": "not_yet", "reasons": []}}


def call(db, beta, actor=None, **values):
    values = {
        "outcome": "ship",
        "rationale": "Teams use it weekly.",
        "answers": ANSWERS,
        "snapshot": SNAPSHOT,
        "today": date(2026, 1, 31),
        **values,
    }
    return decisions.decide(db, actor or Actor(beta.owner), beta, **values)


def test_a_ship_with_nothing_in_its_way_decides_the_beta(db, running_beta):
    beta = running_beta()
    decision = call(db, beta, participants={"contributors": "Sam, Kim", "informed": ["Sales"]})
    assert beta.state == BetaState.DECIDED
    assert beta.decision is decision
    assert decision.outcome.value == "ship"
    assert decision.participants == {
        "approver": beta.owner.display_name,
        "contributors": ["Sam", "Kim"],
        "informed": ["Sales"],
    }
    assert decision.snapshot == {**SNAPSHOT, "waivers": []}


def test_a_ship_is_refused_while_a_blocker_is_open_with_a_detail_per_item(db, running_beta):
    beta = running_beta()
    with pytest.raises(BlockersOpen) as refused:
        call(db, beta, open_blockers=[BLOCKER], never_measured=[UNMEASURED])
    assert [d["field"] for d in refused.value.details] == ["waive_feedback_7", "waive_metric_3"]
    assert beta.state == BetaState.RUNNING and not beta.decisions


def test_a_ship_is_refused_while_a_metric_was_never_measured(db, running_beta):
    beta = running_beta()
    with pytest.raises(NotMeasured) as refused:
        call(db, beta, never_measured=[UNMEASURED])
    assert [d["field"] for d in refused.value.details] == ["waive_metric_3"]


def test_waiving_each_item_with_a_reason_lets_a_ship_through_and_records_it(db, running_beta):
    beta = running_beta()
    decision = call(
        db,
        beta,
        open_blockers=[BLOCKER],
        never_measured=[UNMEASURED],
        waivers=[Waiver("feedback", 7, " Fixed in the release. "), Waiver("metric", 3, "Later.")],
    )
    assert decision.waivers == [
        {"kind": "feedback", "id": 7, "label": BLOCKER.label, "reason": "Fixed in the release."},
        {"kind": "metric", "id": 3, "label": "Scheduling", "reason": "Later."},
    ]
    assert decision.snapshot["waivers"] == decision.waivers


def test_a_no_ship_needs_no_waiver(db, running_beta):
    beta = running_beta()
    decision = call(
        db, beta, outcome="no_ship", open_blockers=[BLOCKER], never_measured=[UNMEASURED]
    )
    assert decision.outcome.value == "no_ship" and not decision.waivers


@pytest.mark.parametrize(
    ("values", "fields"),
    [
        ({"rationale": "  "}, ["rationale"]),
        ({"answers": {**ANSWERS, "marketing": ""}}, ["marketing"]),
        ({"waivers": [Waiver("feedback", 99, "Why not.")]}, ["waivers"]),
        (
            {"waivers": [Waiver("feedback", 7, " ")], "open_blockers": [BLOCKER]},
            ["waive_feedback_7"],
        ),
        ({"outcome": "maybe"}, ["outcome"]),
    ],
    ids=["blank rationale", "blank answer", "waiving nothing", "waiver without reason", "outcome"],
)
def test_a_call_without_its_reasons_is_invalid(db, running_beta, values, fields):
    beta = running_beta()
    with pytest.raises(Invalid) as refused:
        call(db, beta, **values)
    assert [d["field"] for d in refused.value.details] == fields
    assert beta.state == BetaState.RUNNING


def test_only_the_owner_or_an_admin_decides(db, running_beta, make_user):
    beta = running_beta()
    with pytest.raises(Forbidden):
        call(db, beta, actor=Actor(make_user(Role.PM)))
    call(db, beta, actor=Actor(make_user(Role.ADMIN)))


@pytest.mark.parametrize("state", [BetaState.DRAFT, BetaState.DECIDED])
def test_only_a_running_beta_is_decided(db, make_beta, state):
    with pytest.raises(BetaNotRunning):
        call(db, make_beta(state=state))


def test_an_admin_reopens_with_a_reason_and_the_decision_stays(db, running_beta, make_user):
    beta = running_beta()
    first = call(db, beta, outcome="no_ship")
    admin = make_user(Role.ADMIN)
    with pytest.raises(Forbidden):
        decisions.reopen(db, Actor(beta.owner), beta, reason="Second look.")
    with pytest.raises(Invalid):
        decisions.reopen(db, Actor(admin), beta, reason=" ")
    decisions.reopen(db, Actor(admin), beta, reason="The customer came back.")
    assert beta.state == BetaState.RUNNING and beta.decision is None
    assert (first.reopened_by, first.reopen_reason) == (admin, "The customer came back.")
    second = call(db, beta)
    assert beta.decisions == [first, second] and beta.decision is second
    with pytest.raises(Conflict):
        decisions.reopen(db, Actor(admin), running_beta(), reason="Nothing to reopen.")


def test_a_ship_opens_its_checkpoints_at_1_3_6_and_12_months_and_a_no_ship_none(db, running_beta):
    shipped = call(db, running_beta())
    assert [(c.months, c.due_on) for c in shipped.checkpoints] == [
        (1, date(2026, 2, 28)),  # the month's last day when it has fewer days
        (3, date(2026, 4, 30)),
        (6, date(2026, 7, 31)),
        (12, date(2027, 1, 31)),
    ]
    assert call(db, running_beta(), outcome="no_ship").checkpoints == []


def test_the_ship_message_is_for_a_standing_ship_and_its_owner(db, running_beta, make_user):
    shipped, declined = running_beta(), running_beta()
    call(db, shipped)
    call(db, declined, outcome="no_ship")
    with pytest.raises(Conflict):
        decisions.set_ship_message(db, Actor(declined.owner), declined, message="It shipped!")
    with pytest.raises(Forbidden):
        decisions.set_ship_message(db, Actor(make_user(Role.PM)), shipped, message="Hi")
    with pytest.raises(Invalid):
        decisions.set_ship_message(db, Actor(shipped.owner), shipped, message="  ")
    decisions.set_ship_message(db, Actor(shipped.owner), shipped, message=" It shipped! ")
    assert shipped.decision.ship_message == "It shipped!"
