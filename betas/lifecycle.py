"""The rules of a beta's life: framing, launch, "may it grow?", overdue, deadline extensions.

Launch asks every requirement it is given what the beta still lacks. The core's own are
CORE_REQUIREMENTS; packages above the core add theirs when the app is created (the web kit keeps
the app's list), so the core never imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from betas.audit import Actor, record
from betas.auth.permissions import EDITORS, can_frame, require_edit
from betas.auth.users import find_user
from betas.db import utcnow
from betas.errors import (
    BetaNotRunning,
    BetaOverdue,
    Conflict,
    ExtensionRefused,
    Forbidden,
    Invalid,
    LaunchRefused,
    NotFound,
)
from betas.models import (
    Beta,
    BetaState,
    BusinessOutcome,
    DeadlineExtension,
    Risk,
    User,
    is_slug,
)
from betas.wording import plural

FRAMING_FIELDS = (
    "name",
    "problem",
    "learning_goals",
    "customer_outcome",
    "business_outcomes",
    "risk",
    "owner",
    "decision_deadline",
)


def today_in(zone: ZoneInfo, now: datetime | None = None) -> date:
    """Return today's date in the configured zone, the day against which deadlines are read."""
    return (now or utcnow()).astimezone(zone).date()


def is_overdue(beta: Beta, today: date) -> bool:
    """Tell whether a running beta's deadline day has ended without a decision."""
    return (
        beta.state == BetaState.RUNNING
        and beta.decision_deadline is not None
        and beta.decision_deadline < today
    )


def check_open(beta: Beta, today: date) -> None:
    """May this beta grow? Raise unless it is running and not overdue.

    Enrolling, sampling and new cohorts all ask this first.
    """
    if beta.state != BetaState.RUNNING:
        raise BetaNotRunning(
            f"{beta.name} is {beta.state.value}: accounts join a beta only while it runs."
        )
    if is_overdue(beta, today):
        raise BetaOverdue(
            f"{beta.name} passed its decision deadline ({beta.decision_deadline}): decide, or "
            "extend the deadline with a reason, before adding anyone."
        )


def days_left(beta: Beta, today: date) -> int | None:
    """Return the days until the deadline (negative once overdue), or None without one."""
    if beta.decision_deadline is None:
        return None
    return (beta.decision_deadline - today).days


def get_beta(session: Session, key: str) -> Beta:
    """Return the beta with this key, with its metrics and extensions, or raise NotFound."""
    beta = session.scalar(
        select(Beta)
        .where(Beta.key == key)
        .options(selectinload(Beta.metrics), selectinload(Beta.extensions))
    )
    if beta is None:
        raise NotFound(f"There is no beta with the key {key!r}.")
    return beta


def list_betas(session: Session) -> list[Beta]:
    """Return every beta with its owner, metrics and extensions loaded."""
    return list(
        session.scalars(
            select(Beta).options(
                selectinload(Beta.owner),
                selectinload(Beta.metrics),
                selectinload(Beta.extensions),
            )
        )
    )


def urgency(beta: Beta, today: date) -> tuple:
    """Sort key for the dashboard: overdue first, then running, then drafts; by deadline."""
    rank = {BetaState.RUNNING: 1, BetaState.DRAFT: 2, BetaState.DECIDED: 3}[beta.state]
    if is_overdue(beta, today):
        rank = 0
    return (rank, beta.decision_deadline or date.max, beta.key)


def owner_candidates(session: Session) -> list[User]:
    """Return the people who may own a beta: active PMs and admins."""
    return list(
        session.scalars(
            select(User)
            .where(User.is_active.is_(True), User.role.in_(EDITORS))
            .order_by(User.email)
        )
    )


def resolve_owner(session: Session, email: str) -> User:
    """Return the user with this email, or raise Invalid on the owner field."""
    user = find_user(session, email)
    if user is None:
        raise Invalid(
            f"There is no user with the email {email}.",
            [{"field": "owner", "message": "No user has this email."}],
        )
    return user


def _check_framing(values: dict) -> None:
    if "name" in values and not (values["name"] or "").strip():
        raise Invalid("Give the beta a name.", [{"field": "name", "message": "Required."}])
    outcomes = values.get("business_outcomes") or []
    bad = [o for o in outcomes if o not in {b.value for b in BusinessOutcome}]
    if bad:
        raise Invalid(
            f"Unknown business outcome: {', '.join(bad)}.",
            [{"field": "business_outcomes", "message": f"Unknown: {', '.join(bad)}."}],
        )
    owner = values.get("owner")
    if owner is not None and (not owner.is_active or owner.role not in EDITORS):
        raise Invalid(
            f"{owner.email} cannot own a beta: owners are active PMs or admins.",
            [{"field": "owner", "message": "Choose an active PM or admin."}],
        )


# What launch required of the framing stays stated once launched: reworded, never cleared.
KEPT_SINCE_LAUNCH = {"problem": "the problem", "learning_goals": "the learning goals"}


def _check_kept(beta: Beta, values: dict) -> None:
    if beta.state == BetaState.DRAFT:
        return
    cleared = [n for n in KEPT_SINCE_LAUNCH if n in values and not (values[n] or "").strip()]
    if cleared:
        what = " and ".join(KEPT_SINCE_LAUNCH[n] for n in cleared)
        it = "them" if len(cleared) > 1 else "it"
        raise Invalid(
            f"Launch required {what}: a launched beta keeps {it}. Reword {it}, but do not clear "
            f"{it}.",
            [
                {"field": n, "message": "Required since launch: reword it, but keep it."}
                for n in cleared
            ],
        )


def _check_key(session: Session, key: str, beta: Beta | None = None) -> None:
    if not is_slug(key):
        raise Invalid(
            "A key is lower-case letters, digits and single hyphens, like 'inbox-reports'.",
            [{"field": "key", "message": "Use lower-case letters, digits and hyphens."}],
        )
    taken = session.scalar(select(Beta.id).where(Beta.key == key))
    if taken is not None and (beta is None or taken != beta.id):
        raise Conflict(
            f"The key {key!r} belongs to another beta.",
            [{"field": "key", "message": "This key is taken; choose another."}],
        )


def _apply(beta: Beta, values: dict) -> dict:
    """Set the given framing fields; return {field: [old, new]} for those that changed."""
    changes = {}
    for name in FRAMING_FIELDS:
        if name not in values:
            continue
        new = values[name]
        if name == "risk":
            new = Risk(new)
        elif name == "business_outcomes":
            new = sorted(set(new or []))
        elif name in ("name", "problem", "learning_goals", "customer_outcome"):
            new = (new or "").strip()
        old = getattr(beta, name)
        if old != new:
            setattr(beta, name, new)
            changes[name] = [_plain(old), _plain(new)]
    return changes


def _plain(value):
    if isinstance(value, User):
        return value.email
    if isinstance(value, date | Risk):
        return str(value)
    return value


def _check_deadline_ahead(values: dict, today: date) -> None:
    deadline = values.get("decision_deadline")
    if deadline is not None and deadline < today:
        problem = deadline_passed(deadline)
        raise Invalid(problem["message"], [problem])


def create_beta(session: Session, actor: Actor, key: str, *, today: date, **values) -> Beta:
    """Frame a new draft beta.

    Refuses viewers, a malformed or taken key, a non-PM owner, and a deadline before `today`.
    """
    if not can_frame(actor.user):
        raise Forbidden("Only PMs and admins can frame betas.")
    _check_key(session, key)
    values.setdefault("owner", actor.user)
    _check_deadline_ahead(values, today)
    _check_framing(values)
    beta = Beta(key=key, state=BetaState.DRAFT)
    _apply(beta, values)
    session.add(beta)
    session.flush()
    record(session, actor, "beta.created", beta, beta=beta, name=beta.name)
    return beta


def update_beta(session: Session, actor: Actor, beta: Beta, *, today: date, **values) -> Beta:
    """Change a beta's framing.

    Refuses anyone but its owner or an admin, a draft's deadline before `today`, a key change once
    launched, a deadline change once launched (that is what extensions are for), clearing what
    launch required, and any change once decided.
    """
    require_edit(actor.user, beta)
    if beta.state == BetaState.DECIDED:
        raise Conflict("This beta has been decided; its framing is part of the record now.")
    key = values.pop("key", beta.key)
    if key != beta.key:
        if beta.state != BetaState.DRAFT:
            raise Conflict(
                "The key is fixed once a beta is launched: the product uses it.",
                [{"field": "key", "message": "Fixed since launch."}],
            )
        _check_key(session, key, beta)
    deadline = values.get("decision_deadline", beta.decision_deadline)
    if beta.state != BetaState.DRAFT and deadline != beta.decision_deadline:
        raise Conflict(
            "A running beta's deadline moves only by an extension with a reason.",
            [{"field": "decision_deadline", "message": "Extend the deadline instead."}],
        )
    if beta.state == BetaState.DRAFT:
        _check_deadline_ahead(values, today)
    _check_kept(beta, values)
    _check_framing(values)
    changes = _apply(beta, values)
    if key != beta.key:
        changes["key"] = [beta.key, key]
        beta.key = key
    if changes:
        session.flush()
        record(session, actor, "beta.updated", beta, beta=beta, changes=changes)
    return beta


def deletion_refusal(beta: Beta) -> str:
    """Say why a beta cannot be deleted, or '' for a draft, which can."""
    if beta.state == BetaState.DRAFT:
        return ""
    return (
        f"{beta.name} is {beta.state.value}: a launched beta is part of the record, so it cannot "
        "be deleted."
    )


def delete_beta(session: Session, actor: Actor, beta: Beta) -> None:
    """Delete a draft with its metrics; refuses a launched beta, which is part of the record."""
    require_edit(actor.user, beta)
    refusal = deletion_refusal(beta)
    if refusal:
        raise Conflict(refusal)
    # Not on the beta: its own entries go with it (ON DELETE CASCADE), this one must outlive it.
    record(session, actor, "beta.deleted", beta, name=beta.name)
    session.delete(beta)
    session.flush()


# A launch requirement says what a beta lacks: [{"field", "message"}], empty when it has it.
LaunchRequirement = Callable[[Session, Beta, date], list[dict[str, str]]]


def problem_stated(_session: Session, beta: Beta, _today: date) -> list[dict[str, str]]:
    """Require the problem the beta sets out to solve."""
    if beta.problem.strip():
        return []
    return [{"field": "problem", "message": "Describe the problem this beta sets out to solve."}]


def learning_goals_stated(_session: Session, beta: Beta, _today: date) -> list[dict[str, str]]:
    """Require what the team wants to learn as early as possible."""
    if beta.learning_goals.strip():
        return []
    return [
        {"field": "learning_goals", "message": "Say what you want to learn as early as possible."}
    ]


def metrics_set(_session: Session, beta: Beta, _today: date) -> list[dict[str, str]]:
    """Require at least one success metric with a target."""
    if beta.metrics:
        return []
    return [{"field": "metrics", "message": "Add at least one success metric with a target."}]


def metrics_instrumented(_session: Session, beta: Beta, _today: date) -> list[dict[str, str]]:
    """Require a rule over events on every metric, so that each is measured from launch."""
    return [
        {
            "field": "metrics",
            "message": f"The metric {metric.name!r} is not instrumented: give it a rule.",
        }
        for metric in beta.metrics
        if not metric.rule
    ]


def deadline_passed(deadline: date) -> dict[str, str]:
    """Say that a decision deadline has passed, as framing and launch both refuse it."""
    return {
        "field": "decision_deadline",
        "message": f"The decision deadline {deadline} has passed; choose today or later.",
    }


def deadline_ahead(_session: Session, beta: Beta, today: date) -> list[dict[str, str]]:
    """Require a decision deadline that has not passed."""
    if beta.decision_deadline is None:
        return [{"field": "decision_deadline", "message": "Set a decision deadline."}]
    if beta.decision_deadline < today:
        return [deadline_passed(beta.decision_deadline)]
    return []


CORE_REQUIREMENTS: tuple[LaunchRequirement, ...] = (
    problem_stated,
    learning_goals_stated,
    metrics_set,
    metrics_instrumented,
    deadline_ahead,
)


def launch_problems(
    session: Session,
    beta: Beta,
    today: date,
    requirements: Sequence[LaunchRequirement] = CORE_REQUIREMENTS,
) -> list[dict[str, str]]:
    """List what a beta lacks before it may take customers (empty when it may launch)."""
    return [problem for check in requirements for problem in check(session, beta, today)]


def launch(
    session: Session,
    actor: Actor,
    beta: Beta,
    today: date,
    requirements: Sequence[LaunchRequirement] = CORE_REQUIREMENTS,
) -> Beta:
    """Move a draft to running; refuses with the whole list of what `requirements` find missing."""
    require_edit(actor.user, beta)
    if beta.state != BetaState.DRAFT:
        raise Conflict(f"This beta is {beta.state.value}, not a draft; it cannot launch again.")
    problems = launch_problems(session, beta, today, requirements)
    if problems:
        raise LaunchRefused(
            "This beta cannot launch yet. " + " ".join(p["message"] for p in problems),
            problems,
        )
    beta.state = BetaState.RUNNING
    beta.launched_at = utcnow()
    session.flush()
    record(session, actor, "beta.launched", beta, beta=beta, deadline=str(beta.decision_deadline))
    return beta


def extend(
    session: Session,
    actor: Actor,
    beta: Beta,
    *,
    new_deadline: date,
    reason: str,
    today: date,
    max_extensions: int,
    max_days: int,
) -> DeadlineExtension:
    """Move a running beta's deadline later, with a reason.

    Refuses a beta that is not running, more than `max_extensions` extensions, a blank reason, a
    new deadline not after the old one or already past, and one more than `max_days` after the
    current deadline (an overdue beta's too: a deadline is a forcing function, not a formality).
    """
    require_edit(actor.user, beta)
    if beta.state != BetaState.RUNNING:
        raise ExtensionRefused(
            "Only a running beta's deadline is extended; edit a draft's deadline directly."
        )
    if len(beta.extensions) >= max_extensions:
        raise ExtensionRefused(
            f"This beta has had {len(beta.extensions)} of {max_extensions} extensions allowed: "
            "it is time to decide."
        )
    if not reason.strip():
        raise Invalid("Say why the deadline moves.", [{"field": "reason", "message": "Required."}])
    earliest = max(beta.decision_deadline + timedelta(days=1), today)
    latest = beta.decision_deadline + timedelta(days=max_days)
    if latest < earliest:
        raise ExtensionRefused(
            f"{beta.name} is {plural((today - beta.decision_deadline).days, 'day')} past its "
            f"deadline, more than the {plural(max_days, 'day')} an extension may add: it is time "
            "to decide."
        )
    if new_deadline < earliest:
        raise Invalid(
            f"The new deadline must be {earliest} or later.",
            [{"field": "new_deadline", "message": "Choose a later date."}],
        )
    if new_deadline > latest:
        raise Invalid(
            f"An extension moves the deadline at most {plural(max_days, 'day')}: "
            f"choose {latest} or earlier.",
            [
                {
                    "field": "new_deadline",
                    "message": f"At most {plural(max_days, 'day')} past {beta.decision_deadline}: "
                    f"{latest} or earlier.",
                }
            ],
        )
    extension = DeadlineExtension(
        old_deadline=beta.decision_deadline,
        new_deadline=new_deadline,
        reason=reason.strip(),
        user=actor.user,
    )
    beta.extensions.append(extension)
    beta.decision_deadline = new_deadline
    session.flush()
    record(
        session,
        actor,
        "beta.extended",
        beta,
        beta=beta,
        old=str(extension.old_deadline),
        new=str(new_deadline),
        reason=extension.reason,
    )
    return extension
