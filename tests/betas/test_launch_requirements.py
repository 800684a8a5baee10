"""Launch asks every requirement it is given; packages above the core add their own."""

from datetime import date

import pytest

from betas import lifecycle
from betas.audit import Actor
from betas.errors import BetaNotRunning, BetaOverdue, LaunchRefused
from betas.models import BetaState

TODAY = date(2026, 11, 23)


def sheet_linked(_session, beta, _today):
    # A requirement as a package above the core would register it.
    if beta.name.endswith("(sheet)"):
        return []
    return [{"field": "sheet", "message": "Link the feedback sheet first."}]


def test_the_core_requirements_are_the_default(db, make_beta):
    beta = make_beta(framed=False)
    assert [p["field"] for p in lifecycle.launch_problems(db, beta, TODAY)] == [
        "problem",
        "learning_goals",
        "metrics",
    ]
    requirements = (*lifecycle.CORE_REQUIREMENTS, sheet_linked)
    assert lifecycle.launch_problems(db, beta, TODAY, requirements)[-1]["field"] == "sheet"


def test_a_launch_is_refused_by_a_requirement_it_is_given(db, make_beta):
    beta = make_beta(deadline=TODAY)
    requirements = (*lifecycle.CORE_REQUIREMENTS, sheet_linked)
    with pytest.raises(LaunchRefused) as refused:
        lifecycle.launch(db, Actor(beta.owner), beta, TODAY, requirements)
    assert refused.value.details == [
        {"field": "sheet", "message": "Link the feedback sheet first."}
    ]
    assert beta.state == BetaState.DRAFT
    beta.name = "Inbox reports (sheet)"
    lifecycle.launch(db, Actor(beta.owner), beta, TODAY, requirements)
    assert beta.state == BetaState.RUNNING


@pytest.mark.parametrize(
    ("state", "deadline", "refusal"),
    [
        (BetaState.DRAFT, date(2026, 12, 1), BetaNotRunning),
        (BetaState.RUNNING, date(2026, 11, 22), BetaOverdue),
    ],
)
def test_a_beta_grows_only_while_running_and_on_time(make_beta, state, deadline, refusal):
    with pytest.raises(refusal):
        lifecycle.check_open(make_beta(state=state, deadline=deadline), TODAY)
    lifecycle.check_open(make_beta(state=BetaState.RUNNING, deadline=TODAY), TODAY)
