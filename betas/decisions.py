"""The ship / no-ship call: deciding a running beta, and reopening a decided one.

The rules need what higher packages know (the open blockers are feedback's, the metrics never
measured are usage's, the review is the roof's): the roof gathers them and passes them in as
plain values (`Waivable` items and the snapshot), so the core never imports those packages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from betas import checkpoints
from betas.audit import Actor, record
from betas.auth.permissions import require_edit
from betas.db import utcnow
from betas.errors import (
    BetaNotRunning,
    BlockersOpen,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    NotMeasured,
)
from betas.models import Beta, BetaState, Decision, Outcome, Role

# The guide's three questions before the final call, by the name each answer is kept under.
QUESTIONS = {
    "solved": "Have we solved the problem enough to release it, judged by the measures of "
    "success and the qualitative feedback?",
    "replaces_existing": "Does it replace something that exists, and is it better than what "
    "everyone has now?",
    "marketing": "Does marketing want a particular time or way to announce it?",
}


@dataclass(frozen=True)
class Waivable:
    """Something that stops a ship unless waived: an open blocker, or a metric never measured."""

    kind: str  # "feedback" or "metric"
    id: int
    label: str  # how it reads: the blocker's account and words, the metric's name

    @property
    def field(self) -> str:
        """The name of its waiver's reason, on the decision form and in a refusal's details."""
        return f"waive_{self.kind}_{self.id}"


@dataclass(frozen=True)
class Waiver:
    """A reason given to ship despite one waivable item."""

    kind: str
    id: int
    reason: str


def _required(value: str | None, field: str, message: str) -> str:
    text = (value or "").strip()
    if not text:
        raise Invalid(message, [{"field": field, "message": "Required."}])
    return text


def _names(values: Sequence[str] | str | None) -> list[str]:
    if isinstance(values, str):
        values = values.replace("\n", ",").split(",")
    return [name.strip() for name in values or () if name.strip()]


def _participants(actor: Actor, given: Mapping[str, object] | None) -> dict:
    given = given or {}
    return {
        "approver": str(given.get("approver") or "").strip() or actor.user.display_name,
        "contributors": _names(given.get("contributors")),
        "informed": _names(given.get("informed")),
    }


def _checked_waivers(
    waivers: Sequence[Waiver], waivable: Sequence[Waivable]
) -> dict[tuple[str, int], dict]:
    by_item = {(item.kind, item.id): item for item in waivable}
    kept: dict[tuple[str, int], dict] = {}
    problems = []
    for waiver in waivers:
        item = by_item.get((waiver.kind, waiver.id))
        if item is None:
            problems.append(
                {
                    "field": "waivers",
                    "message": f"Nothing to waive: {waiver.kind} {waiver.id} is not an open "
                    "blocker or a metric never measured.",
                }
            )
        elif not waiver.reason.strip():
            problems.append({"field": item.field, "message": "Say why this is waived."})
        else:
            kept[(item.kind, item.id)] = {
                "kind": item.kind,
                "id": item.id,
                "label": item.label,
                "reason": waiver.reason.strip(),
            }
    if problems:
        raise Invalid(" ".join(p["message"] for p in problems), problems)
    return kept


def _unwaived_refusal(blockers: list[Waivable], metrics: list[Waivable]) -> None:
    details = [
        {"field": b.field, "message": f"Open blocker: {b.label}. Resolve it, or waive it."}
        for b in blockers
    ] + [
        {"field": m.field, "message": f"Never measured: {m.label}. Waive it to ship regardless."}
        for m in metrics
    ]
    if blockers:
        raise BlockersOpen(
            f"A ship is refused while {len(blockers)} blocker(s) are open: resolve each one, or "
            "waive it with a reason.",
            details,
        )
    if metrics:
        raise NotMeasured(
            f"A ship is refused while {len(metrics)} metric(s) have never been measured: "
            "\"if the feature hasn't been instrumented, it's not ready to be shipped\". Waive "
            "each one with a reason to ship regardless.",
            details,
        )


def decide(
    session: Session,
    actor: Actor,
    beta: Beta,
    *,
    outcome: str,
    rationale: str,
    answers: Mapping[str, str],
    learned: str = "",
    participants: Mapping[str, object] | None = None,
    waivers: Sequence[Waiver] = (),
    open_blockers: Sequence[Waivable] = (),
    never_measured: Sequence[Waivable] = (),
    snapshot: Mapping[str, object],
    today: date,
) -> Decision:
    """Record a running beta's ship / no-ship call, with the review frozen in `snapshot`.

    Refuses anyone but the beta's owner or an admin, a beta that is not running, a blank
    rationale or answer, and a waiver of nothing or without a reason. A ship is refused while an
    item of `open_blockers` or `never_measured` is not waived (BlockersOpen, then NotMeasured,
    with a detail for each item); a no-ship needs neither. A ship opens its outcome checkpoints,
    due 1, 3, 6 and 12 months after `today`.
    """
    require_edit(actor.user, beta)
    if beta.state != BetaState.RUNNING:
        raise BetaNotRunning(
            f"{beta.name} is {beta.state.value}: only a running beta is decided."
            + (" An admin may reopen it first." if beta.state == BetaState.DECIDED else "")
        )
    try:
        call = Outcome(outcome)
    except ValueError:
        raise Invalid(
            "Choose ship or no-ship.", [{"field": "outcome", "message": "Ship or no-ship."}]
        ) from None
    problems = [
        {"field": name, "message": "Required."}
        for name in ("rationale", *QUESTIONS)
        if not ((rationale if name == "rationale" else answers.get(name)) or "").strip()
    ]
    if problems:
        raise Invalid(
            "Give the rationale and answer the guide's three questions before deciding.", problems
        )
    kept = _checked_waivers(waivers, [*open_blockers, *never_measured])
    if call == Outcome.SHIP:
        _unwaived_refusal(
            [b for b in open_blockers if (b.kind, b.id) not in kept],
            [m for m in never_measured if (m.kind, m.id) not in kept],
        )
    stored_waivers = list(kept.values())
    decision = Decision(
        outcome=call,
        rationale=rationale.strip(),
        answers={name: answers[name].strip() for name in QUESTIONS},
        learned=(learned or "").strip(),
        participants=_participants(actor, participants),
        waivers=stored_waivers,
        snapshot={**snapshot, "waivers": stored_waivers},
        user=actor.user,
        token_id=actor.token.id if actor.token else None,
    )
    if call == Outcome.SHIP:
        checkpoints.plan(decision, today)
    beta.decisions.append(decision)
    beta.state = BetaState.DECIDED
    session.flush()
    record(
        session,
        actor,
        "beta.decided",
        beta,
        beta=beta,
        outcome=call.value,
        decision=decision.id,
        waivers=len(stored_waivers),
    )
    return decision


def get_decision(beta: Beta, decision_id: int | None = None) -> Decision:
    """Return the beta's standing decision, or the one with this id; NotFound otherwise."""
    if decision_id is None:
        if beta.decision is None:
            raise NotFound(f"{beta.name} has not been decided.")
        return beta.decision
    for decision in beta.decisions:
        if decision.id == decision_id:
            return decision
    raise NotFound(f"{beta.name} has no decision {decision_id}.")


def reopen(session: Session, actor: Actor, beta: Beta, *, reason: str) -> Beta:
    """Reopen a decided beta (admins only), with a reason; the decision stays in its record.

    The beta runs again (it may be overdue: then decide, or extend with a reason).
    """
    if actor.user.role != Role.ADMIN:
        raise Forbidden("Only an admin can reopen a decided beta.")
    decision = beta.decision
    if decision is None:
        raise Conflict(
            f"{beta.name} is {beta.state.value}, not decided: there is nothing to reopen."
        )
    why = _required(reason, "reason", "Say why the beta is reopened.")
    decision.reopened_at = utcnow()
    decision.reopened_by = actor.user
    decision.reopen_reason = why
    beta.state = BetaState.RUNNING
    session.flush()
    record(
        session,
        actor,
        "beta.reopened",
        beta,
        beta=beta,
        outcome=decision.outcome.value,
        decision=decision.id,
        reason=why,
    )
    return beta


def set_ship_message(session: Session, actor: Actor, beta: Beta, *, message: str) -> Beta:
    """Set what the accounts that asked for it are told now that it shipped.

    Refuses anyone but the beta's owner or an admin, and a beta whose standing decision is not a
    ship.
    """
    require_edit(actor.user, beta)
    if beta.decision is None or beta.decision.outcome != Outcome.SHIP:
        raise Conflict(f"{beta.name} has not shipped: there is no news to tell yet.")
    text = _required(message, "message", "Write the message to send.")
    if text != beta.decision.ship_message:
        beta.decision.ship_message = text
        session.flush()
        record(session, actor, "beta.ship_message_set", beta, beta=beta, message=text)
    return beta
