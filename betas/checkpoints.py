"""Outcome checkpoints after a ship: made with it, due 1, 3, 6 and 12 months on, then reported.

"Around a month after we release a feature ... checkpoints, assessing outcomes at the three, six
or twelve-month mark." Re-measuring the metrics is usage's: the roof passes the values in as
plain JSON, as it does the decision's snapshot.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from datetime import date

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload

from betas.audit import Actor, record
from betas.auth.permissions import require_edit
from betas.db import utcnow
from betas.errors import Conflict, Invalid, NotFound
from betas.models import Beta, BetaState, Checkpoint, Decision

MONTHS = (1, 3, 6, 12)
# The guide's outcome questions, by the name each answer is kept under.
QUESTIONS = {
    "solved": "Have we sufficiently solved the problem for most target customers?",
    "outcomes": "Have we achieved the customer and business outcomes we aimed for?",
}


def months_after(day: date, months: int) -> date:
    """Return the same day `months` later, or the month's last day when it has fewer days."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def plan(decision: Decision, ship_day: date) -> list[Checkpoint]:
    """Add a ship's checkpoints, due 1, 3, 6 and 12 months after `ship_day`."""
    made = [Checkpoint(months=n, due_on=months_after(ship_day, n)) for n in MONTHS]
    decision.checkpoints.extend(made)
    return made


def select_due(today: date) -> Select[tuple[Checkpoint]]:
    """Select the checkpoints due by `today` and not reported, of decisions that stand, in order.

    The dashboard lists them; the reminders mail their owners (`betas.reminders`).
    """
    return (
        select(Checkpoint)
        .join(Decision, Decision.id == Checkpoint.decision_id)
        .where(
            Checkpoint.due_on <= today,
            Checkpoint.reported_at.is_(None),
            Decision.reopened_at.is_(None),
        )
        .order_by(Checkpoint.due_on, Checkpoint.id)
    )


def due(session: Session, today: date) -> list[Checkpoint]:
    """Return the checkpoints due by `today` and not reported, of decisions that stand."""
    return list(
        session.scalars(
            select_due(today).options(joinedload(Checkpoint.decision).joinedload(Decision.beta))
        )
    )


def get_checkpoint(beta: Beta, checkpoint_id: int) -> Checkpoint:
    """Return one of the beta's checkpoints, of any of its decisions, or raise NotFound."""
    for decision in beta.decisions:
        for checkpoint in decision.checkpoints:
            if checkpoint.id == checkpoint_id:
                return checkpoint
    raise NotFound(f"{beta.name} has no checkpoint {checkpoint_id}.")


def _actions(actions: Sequence[Mapping[str, object]]) -> list[dict]:
    kept, problems = [], []
    for n, action in enumerate(actions):
        what = str(action.get("what") or "").strip()
        owner = str(action.get("owner") or "").strip()
        due_on = action.get("due_on")
        missing = [
            name
            for name, value in (("what", what), ("owner", owner), ("due_on", due_on))
            if not value
        ]
        problems += [
            {
                "field": f"actions-{n}-{name}",
                "message": "Each action needs what, an owner and a due date.",
            }
            for name in missing
        ]
        if not missing:
            kept.append({"what": what, "owner": owner, "due_on": due_on.isoformat()})
    if problems:
        raise Invalid("Give each action what is to be done, its owner and its due date.", problems)
    return kept


def report(
    session: Session,
    actor: Actor,
    beta: Beta,
    checkpoint: Checkpoint,
    *,
    solved: str,
    outcomes: str,
    actions: Sequence[Mapping[str, object]],
    measured: list[dict],
    today: date,
) -> Checkpoint:
    """Record a due checkpoint's outcome report, with the metrics as re-measured (`measured`).

    Refuses anyone but the beta's owner or an admin, a checkpoint of a decision set aside by a
    reopen, one not due yet or already reported, blank answers, and an action without what, an
    owner or a due date.
    """
    require_edit(actor.user, beta)
    if beta.state != BetaState.DECIDED or checkpoint.decision is not beta.decision:
        raise Conflict("This checkpoint's ship was set aside when the beta was reopened.")
    if checkpoint.reported_at is not None:
        raise Conflict("This checkpoint has been reported: its report is part of the record.")
    if checkpoint.due_on > today:
        raise Conflict(f"This checkpoint is due on {checkpoint.due_on}: report it then.")
    problems = [
        {"field": name, "message": "Required."}
        for name, text in (("solved", solved), ("outcomes", outcomes))
        if not (text or "").strip()
    ]
    if problems:
        raise Invalid("Answer both outcome questions.", problems)
    checkpoint.actions = _actions(actions)
    checkpoint.solved, checkpoint.outcomes = solved.strip(), outcomes.strip()
    checkpoint.measured = measured
    checkpoint.reported_at = utcnow()
    checkpoint.reported_by = actor.user
    session.flush()
    record(
        session,
        actor,
        "checkpoint.reported",
        checkpoint,
        beta=beta,
        months=checkpoint.months,
        actions=len(checkpoint.actions),
    )
    return checkpoint
