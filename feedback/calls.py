"""Calls with a beta's accounts: planning one, preparing for it, and what was said on it.

The guide: "jump on calls with these customers early on ... Before the call, you should review
what they have and haven't done then jot down the qualitative questions ... Invite an engineer
and designer". A call is planned by the beta's owner or an admin (PMs own the relationship);
its attendees (the engineer, the designer), its creator and the beta's editors may change it,
to write the notes; anyone signed in reads it and logs what was said on it, through the log
(`log.log` with the call), so each item is the log's like any other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from betas.audit import Actor, record
from betas.auth.permissions import can_edit, require_edit
from betas.errors import Conflict, Forbidden, Invalid, NotFound
from betas.models import TEXT_MAX, Beta, BetaState, User
from cohorts import memberships
from cohorts.models import Account, Membership
from feedback import log
from feedback.models import GUESTS_MAX, Call, FeedbackItem, Source
from usage import activity

CHANGEABLE = ("held_at", "attendees", "guests", "questions", "notes")


def _problem(field: str, message: str) -> Invalid:
    return Invalid(message, [{"field": field, "message": message}])


def _text(field: str, value: str | None, most: int = TEXT_MAX) -> str:
    text = (value or "").strip()
    if len(text) > most:
        raise _problem(field, f"At most {most:,} characters; this is {len(text):,}.")
    if log.UNSTORABLE.search(text):
        raise _problem(field, "It holds a NUL character or half a surrogate pair.")
    return text


def _held_at(value: datetime | None) -> datetime:
    if value is None:
        raise _problem("held_at", "Say when the call is.")
    if value.tzinfo is None:
        raise _problem("held_at", "Give the time with its zone.")
    return value


def _attendees(session: Session, user_ids: Sequence[int]) -> list[User]:
    wanted = set(user_ids)
    if not wanted:
        return []
    found = list(session.scalars(select(User).where(User.id.in_(wanted), User.is_active.is_(True))))
    if len(found) != len(wanted):
        raise _problem("attendees", "Choose attendees among the active users.")
    return found


def may_change(user: User, call: Call) -> bool:
    """Tell whether the user may change the call: its attendees, its creator, the beta's editors."""
    return (
        can_edit(user, call.beta)
        or call.created_by_id == user.id
        or any(attendee.id == user.id for attendee in call.attendees)
    )


def create_call(
    session: Session,
    actor: Actor,
    beta: Beta,
    *,
    account: str,
    held_at: datetime | None,
    attendees: Sequence[int] = (),
    guests: str = "",
    questions: str = "",
) -> Call:
    """Plan a call with an account of the beta.

    Refused unless the actor may change the beta; on a draft (it has no customers); for an
    account that is not in the beta (any status: a call may ask why it left); without a time.
    """
    require_edit(actor.user, beta)
    if beta.state == BetaState.DRAFT:
        raise Conflict("A draft beta has no customers yet: plan calls once it runs.")
    found = log.find_account(session, account)
    if memberships.get_membership(session, beta, found.external_id) is None:
        raise _problem("account", f"{found.external_id} is not in this beta: enroll it first.")
    call = Call(
        beta=beta,
        account=found,
        held_at=_held_at(held_at),
        attendees=_attendees(session, attendees),
        guests=_text("guests", guests, GUESTS_MAX),
        questions=_text("questions", questions),
        created_by=actor.user,
    )
    session.add(call)
    session.flush()
    record(
        session,
        actor,
        "call.created",
        call,
        beta=beta,
        account=found.external_id,
        held_at=call.held_at.isoformat(),
    )
    session.flush()
    return call


def change_call(session: Session, actor: Actor, call: Call, values: Mapping[str, object]) -> Call:
    """Change a call's time, attendees, guests, questions or notes; only the keys given change.

    Refused unless the actor attends, created it, or may change the beta.
    """
    if not may_change(actor.user, call):
        raise Forbidden(
            "Only the call's attendees, whoever planned it and the beta's owner can change it."
        )
    unknown = set(values) - set(CHANGEABLE)
    if unknown:
        raise Invalid(f"Unknown fields: {', '.join(sorted(unknown))}.")
    changed = []
    if "held_at" in values:
        held_at = _held_at(values["held_at"])  # type: ignore[arg-type]
        if held_at != call.held_at:
            call.held_at, changed = held_at, [*changed, "held_at"]
    if "attendees" in values:
        people = _attendees(session, values["attendees"])  # type: ignore[arg-type]
        if {u.id for u in people} != {u.id for u in call.attendees}:
            call.attendees, changed = people, [*changed, "attendees"]
    for field, most in (("guests", GUESTS_MAX), ("questions", TEXT_MAX), ("notes", TEXT_MAX)):
        if field in values:
            text = _text(field, values[field], most)  # type: ignore[arg-type]
            if text != getattr(call, field):
                setattr(call, field, text)
                changed.append(field)
    if changed:
        record(
            session,
            actor,
            "call.changed",
            call,
            beta=call.beta,
            account=call.account.external_id,
            fields=changed,
        )
        session.flush()
    return call


def log_from_call(
    session: Session,
    actor: Actor,
    call: Call,
    *,
    original: str,
    types: Sequence[str],
    type: str | None = None,  # noqa: A002 - the field's name, in the issue's words
    summary: str | None = None,
    reason: str | None = None,
) -> FeedbackItem:
    """Log what the account said on the call, through the log (source call, the call set)."""
    return log.log(
        session,
        actor,
        call.beta,
        account=call.account.external_id,
        original=original,
        types=types,
        source=Source.CALL.value,
        type=type,
        summary=summary,
        reason=reason,
        call=call.id,
    )


# Reading


def get_call(session: Session, beta: Beta, call_id: int) -> Call:
    """Return a call of the beta with its account and attendees, or raise NotFound."""
    call = session.scalar(
        select(Call)
        .where(Call.id == call_id, Call.beta_id == beta.id)
        .options(
            selectinload(Call.account),
            selectinload(Call.attendees),
            selectinload(Call.created_by),
        )
    )
    if call is None:
        raise NotFound(f"No call {call_id} in beta {beta.key}.")
    return call


@dataclass(frozen=True)
class CallRow:
    """A call in the beta's list, with how many items were logged from it."""

    call: Call
    items: int


def list_calls(session: Session, beta: Beta) -> list[CallRow]:
    """Return the beta's calls, the latest first, in a fixed number of statements."""
    counts = dict(
        session.execute(
            select(FeedbackItem.call_id, func.count())
            .where(FeedbackItem.beta_id == beta.id, FeedbackItem.call_id.is_not(None))
            .group_by(FeedbackItem.call_id)
        ).all()
    )
    calls = session.scalars(
        select(Call)
        .where(Call.beta_id == beta.id)
        .options(selectinload(Call.account), selectinload(Call.attendees))
        .order_by(Call.held_at.desc(), Call.id.desc())
    )
    return [CallRow(call, counts.get(call.id, 0)) for call in calls]


def count_calls(session: Session, beta: Beta, *, held_by: datetime | None = None) -> int:
    """Return how many calls the beta has (held by `held_by`, when given: not those planned)."""
    query = select(func.count()).select_from(Call).where(Call.beta_id == beta.id)
    if held_by is not None:
        query = query.where(Call.held_at <= held_by)
    return session.scalar(query) or 0


def account_calls(session: Session, external_id: str) -> list[Call]:
    """Return an account's calls in every beta, the latest first."""
    return list(
        session.scalars(
            select(Call)
            .join(Call.account)
            .where(Account.external_id == external_id)
            .options(selectinload(Call.beta))
            .order_by(Call.held_at.desc(), Call.id.desc())
        )
    )


@dataclass(frozen=True)
class Preparation:
    """What to know before the call: why the account is in, what it did, said, and was in."""

    call: Call
    membership: Membership
    activity: activity.Activity
    said_here: list[FeedbackItem]  # logged from this call, in the order said
    earlier: list[FeedbackItem]  # its other feedback on this beta, newest first
    other_betas: list[Membership]  # its memberships of other betas, the most recent first


def prepare(session: Session, call: Call, today: date) -> Preparation:
    """Return the call's preparation: membership reason and cohort, activity, feedback, betas."""
    beta, account = call.beta, call.account
    membership = memberships.get_membership(session, beta, account.external_id)
    if membership is None:  # a call is only planned with a member, and memberships stay
        raise NotFound(f"{account.external_id} is no longer in beta {beta.key}.")
    items = list(
        session.scalars(
            select(FeedbackItem)
            .where(FeedbackItem.beta_id == beta.id, FeedbackItem.account_id == account.id)
            .options(selectinload(FeedbackItem.logged_by), selectinload(FeedbackItem.call))
            .order_by(FeedbackItem.id.desc())
        )
    )
    others = list(
        session.scalars(
            select(Membership)
            .where(Membership.account_id == account.id, Membership.beta_id != beta.id)
            .options(selectinload(Membership.beta), selectinload(Membership.cohort))
            .order_by(Membership.enrolled_at.desc(), Membership.id.desc())
        )
    )
    return Preparation(
        call=call,
        membership=membership,
        activity=activity.activities(session, beta, [membership], today)[membership.id],
        said_here=[i for i in reversed(items) if i.call_id == call.id],
        earlier=[i for i in items if i.call_id != call.id],
        other_betas=others,
    )


def teammates(session: Session) -> list[User]:
    """Return the active users who may attend a call, by name."""
    return list(
        session.scalars(
            select(User).where(User.is_active.is_(True)).order_by(User.name, User.email)
        )
    )
