"""The beta message: what a beta's members are told when they are asked for feedback.

The guide's four points, drawn from the framing until the owner writes their own: it is a beta;
the problem; what the solution is and where to find it; we need your feedback. It is shown
beside every export of members or of those to ask, for the messaging tool. The beta keeps only
the owner's text (`Beta.message`); while it has none, the message follows the framing, so a
reworded problem shows in it at once.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from betas.audit import Actor, record
from betas.auth.permissions import require_edit
from betas.errors import Invalid
from betas.models import TEXT_MAX, Beta


def _places(beta: Beta) -> list[str]:
    """Return the places in the product its metrics' events happen, in the order first named."""
    places: list[str] = []
    for metric in beta.metrics:
        for pattern in (metric.rule or {}).get("events", []):
            place = pattern.get("place")
            if place and place not in places:
                places.append(place)
    return places


def drawn_message(beta: Beta) -> str:
    """Return the message drawn from the framing, with the guide's four points."""
    solution = beta.customer_outcome.strip() or f"{beta.name} is our answer to it."
    places = _places(beta)
    where = (
        f"You will find it in {', '.join(places)}."
        if places
        else f"You will find it in the product under {beta.name}."
    )
    problem = beta.problem.strip() or "We are working on a problem you told us about."
    return "\n\n".join(
        [
            f"Hello, you are part of the beta of {beta.name}: an early version, tried with a "
            "few customers before anyone else, so some things may still change.",
            f"The problem: {problem}",
            f"What we built: {solution} {where}",
            "We need your feedback: what works, what gets in your way, what you expected. "
            "Reply to this message, or tell us when we talk.",
        ]
    )


def message_of(beta: Beta) -> str:
    """Return the beta's message: the owner's, or the one drawn from the framing."""
    return beta.message or drawn_message(beta)


def set_message(session: Session, actor: Actor, beta: Beta, text: str) -> Beta:
    """Keep the owner's message; a blank one goes back to the message drawn from the framing.

    Refused unless the actor may change the beta (its owner or an admin); at most TEXT_MAX
    characters.
    """
    require_edit(actor.user, beta)
    message = text.strip()
    if len(message) > TEXT_MAX:
        problem = f"At most {TEXT_MAX:,} characters; this is {len(message):,}."
        raise Invalid(problem, [{"field": "message", "message": problem}])
    if message == drawn_message(beta).strip():
        message = ""  # unchanged from the framing: keep following it
    if (beta.message or "") != message:
        beta.message = message or None
        record(session, actor, "beta.message_changed", beta, beta=beta, drawn=not message)
        session.flush()
    return beta
