"""Reminders by email: which are due today, claimed once, sent, then settled.

A running beta's owner hears when the deadline is 7 days away, when it is tomorrow, and every day
it is overdue, each time with the link to the review; never after a decision, never twice a day.
After a ship, the owner hears once when each outcome checkpoint comes due, with the link to the
checkpoint's page; never after its report, nor once a reopen set the ship aside. Once, not daily
as for the deadline: an overdue beta cannot grow until it is decided, so a daily word is due;
a checkpoint holds nothing up, stays listed on the dashboard, and a daily mail about it would
teach the owner to ignore Shipcall's mail. Days are those of SHIPCALL_TIMEZONE: the caller passes
today in that zone.

Sending happens outside any transaction: a reminder is first claimed (a reminders_sent row,
unique per beta and day for a deadline reminder, per checkpoint for a checkpoint's, committed),
then sent, then settled (sent, or its claim removed so the next run tries again). Two runs at once
claim each reminder once: the unique index decides. A claim left unsent by a run that died is
taken over by a run STALE_CLAIM later.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import quote

from sqlalchemy import ColumnElement, delete, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from betas import checkpoints, mail
from betas.audit import record
from betas.config import Settings
from betas.db import utcnow
from betas.lifecycle import days_left
from betas.models import Beta, BetaState, Checkpoint, Decision, ReminderKind, ReminderSent
from betas.wording import plural

# Days before the deadline on which the owner is reminded; every day after it too.
AHEAD = {7: ReminderKind.WEEK_BEFORE, 1: ReminderKind.DAY_BEFORE}
# A claim still unsent after this long belongs to a run that died while sending (a run settles
# within seconds: mail.TIMEOUT a step): the next run takes it over rather than lose the day's
# reminder. Far longer than any run, so two live runs never both send.
STALE_CLAIM = timedelta(minutes=15)
# Plain-text mail reads best in lines of at most 72 characters.
WIDTH = 72


@dataclass(frozen=True)
class Reminder:
    """One reminder due today: for which beta (and checkpoint), why, and the mail that says it."""

    beta_id: int
    beta_key: str
    kind: ReminderKind
    mail: mail.Mail
    checkpoint_id: int | None = None

    def row(self, today: date) -> tuple[ColumnElement[bool], ...]:
        """Say which reminders_sent row claims it: the checkpoint's, or the beta's of today."""
        if self.checkpoint_id is not None:
            return (ReminderSent.checkpoint_id == self.checkpoint_id,)
        return (
            ReminderSent.beta_id == self.beta_id,
            ReminderSent.day == today,
            ReminderSent.checkpoint_id.is_(None),
        )


@dataclass
class Report:
    """What a run did: sent, failed (with why: tried again next run), or would send (no SMTP)."""

    sent: list[Reminder] = field(default_factory=list)
    failed: list[tuple[Reminder, str]] = field(default_factory=list)
    would_send: list[Reminder] = field(default_factory=list)


def kind_due(beta: Beta, today: date) -> ReminderKind | None:
    """Say which reminder a beta is due today, or None: only running betas hear from Shipcall."""
    if beta.state != BetaState.RUNNING:
        return None
    left = days_left(beta, today)
    if left is None:
        return None
    if left < 0:
        return ReminderKind.OVERDUE
    return AHEAD.get(left)


def review_url(settings: Settings, beta: Beta) -> str:
    """Return the address of the beta's review, where the ship / no-ship call is made."""
    return f"{settings.public_url}/betas/{quote(beta.key)}/review"


def write(beta: Beta, kind: ReminderKind, today: date, settings: Settings) -> mail.Mail:
    """Write the reminder to the beta's owner: plain text, the beta's name exactly as typed."""
    deadline = beta.decision_deadline
    left = max(settings.max_extensions - len(beta.extensions), 0)
    if kind == ReminderKind.WEEK_BEFORE:
        subject = f"{beta.name}: decide by {deadline} (7 days left)"
        opening = f"The decision deadline of {beta.name} is {deadline}, 7 days from today."
    elif kind == ReminderKind.DAY_BEFORE:
        subject = f"{beta.name}: the decision is due tomorrow ({deadline})"
        opening = f"The decision deadline of {beta.name} is tomorrow, {deadline}."
    else:
        late = plural((today - deadline).days, "day")
        subject = f"{beta.name}: the decision is {late} overdue"
        opening = (
            f"{beta.name} passed its decision deadline, {deadline}, {late} ago. Until it is "
            "decided or its deadline extended, it takes no new members, samples or cohorts."
        )
    extensions = (
        f"An extension needs a reason; {left} of {settings.max_extensions} left."
        if left
        else "No extension is left: it is time to decide."
    )
    paragraphs = [
        f"Hello {beta.owner.display_name},",
        opening,
        "Review the evidence and record the ship / no-ship call:",
        review_url(settings, beta),
        extensions,
        "-- Shipcall",
    ]
    return _mail(beta, subject, paragraphs)


def checkpoint_url(settings: Settings, beta: Beta, checkpoint: Checkpoint) -> str:
    """Return the address of a checkpoint's page, where it is re-measured and reported."""
    return f"{settings.public_url}/betas/{quote(beta.key)}/checkpoints/{checkpoint.id}"


def write_checkpoint(checkpoint: Checkpoint, today: date, settings: Settings) -> mail.Mail:
    """Write the reminder of a due checkpoint: plain text, the beta's name exactly as typed."""
    decision = checkpoint.decision
    beta = decision.beta
    shipped_on = decision.created_at.astimezone(settings.zone).date()
    name = f"{checkpoint.months}-month outcome checkpoint"
    when = "is due today" if checkpoint.due_on == today else f"was due on {checkpoint.due_on}"
    paragraphs = [
        f"Hello {beta.owner.display_name},",
        f"{beta.name} shipped on {shipped_on}; its {name} {when}.",
        "The checkpoint asks: " + " ".join(checkpoints.QUESTIONS.values()) + " What actions "
        "follow, each with an owner and a due date?",
        "Re-measure the metrics over the same members, beside their values at the decision, and "
        "report the outcomes:",
        checkpoint_url(settings, beta, checkpoint),
        "-- Shipcall",
    ]
    return _mail(beta, f"{beta.name}: the {name} is due", paragraphs)


def _mail(beta: Beta, subject: str, paragraphs: Sequence[str]) -> mail.Mail:
    """Make the mail to the beta's owner: paragraphs filled to WIDTH, links left whole."""
    body = "\n\n".join(
        # Indented and never wrapped: mail readers make a link of a URL on its own line.
        f"    {p}" if p.startswith(("http://", "https://")) else textwrap.fill(p, WIDTH)
        for p in paragraphs
    )
    return mail.Mail(to=beta.owner.email, subject=subject, body=body + "\n")


def _taken() -> ColumnElement[bool]:
    """Say that a reminders_sent row is sent, or claimed by a run still alive."""
    return or_(ReminderSent.sent_at.is_not(None), ReminderSent.claimed_at > utcnow() - STALE_CLAIM)


def due(session: Session, settings: Settings, today: date) -> list[Reminder]:
    """List the reminders due today that no live run has claimed.

    The deadlines' first, by the betas' keys, then the checkpoints', by due date.
    """
    return _deadlines_due(session, settings, today) + _checkpoints_due(session, settings, today)


def _deadlines_due(session: Session, settings: Settings, today: date) -> list[Reminder]:
    already = exists().where(
        ReminderSent.beta_id == Beta.id,
        ReminderSent.day == today,
        ReminderSent.checkpoint_id.is_(None),
        _taken(),
    )
    betas = session.scalars(
        select(Beta)
        .where(
            Beta.state == BetaState.RUNNING,
            or_(
                Beta.decision_deadline.in_([today + timedelta(days=d) for d in AHEAD]),
                Beta.decision_deadline < today,
            ),
            ~already,
        )
        .options(selectinload(Beta.owner), selectinload(Beta.extensions))
        .order_by(Beta.key)
    )
    reminders = []
    for beta in betas:
        kind = kind_due(beta, today)
        if kind is not None:
            reminders.append(Reminder(beta.id, beta.key, kind, write(beta, kind, today, settings)))
    return reminders


def _checkpoints_due(session: Session, settings: Settings, today: date) -> list[Reminder]:
    reminded = exists().where(ReminderSent.checkpoint_id == Checkpoint.id, _taken())
    found = session.scalars(
        checkpoints.select_due(today)
        .where(~reminded)
        .options(joinedload(Checkpoint.decision).joinedload(Decision.beta).joinedload(Beta.owner))
    )
    return [
        Reminder(
            c.decision.beta_id,
            c.decision.beta.key,
            ReminderKind.CHECKPOINT,
            write_checkpoint(c, today, settings),
            checkpoint_id=c.id,
        )
        for c in found
    ]


def claim(session: Session, reminders: Sequence[Reminder], today: date) -> list[Reminder]:
    """Claim each reminder for today; return those this run claimed (another run has the rest).

    A new claim is a row that only one run can insert; a stale one (its run died) is taken over
    by the one run whose update still finds it stale.
    """
    claimed = []
    now = utcnow()
    for reminder in reminders:
        taken_over = session.execute(
            update(ReminderSent)
            .where(
                *reminder.row(today),
                ReminderSent.sent_at.is_(None),
                ReminderSent.claimed_at <= now - STALE_CLAIM,
            )
            .values(claimed_at=now, day=today, kind=reminder.kind, recipient=reminder.mail.to)
        )
        if taken_over.rowcount == 1:
            claimed.append(reminder)
            continue
        try:
            with session.begin_nested():
                session.add(
                    ReminderSent(
                        beta_id=reminder.beta_id,
                        checkpoint_id=reminder.checkpoint_id,
                        day=today,
                        kind=reminder.kind,
                        recipient=reminder.mail.to,
                    )
                )
        except IntegrityError:
            continue
        claimed.append(reminder)
    return claimed


def settle(
    session: Session, claimed: Sequence[Reminder], outcomes: Sequence[str | None], today: date
) -> Report:
    """Mark what was sent, in the beta's history too; drop the failed claims, for the next run."""
    report = Report()
    now = utcnow()
    for reminder, failure in zip(claimed, outcomes, strict=True):
        row = reminder.row(today)
        if failure is None:
            session.execute(update(ReminderSent).where(*row).values(sent_at=now))
            _record_sent(session, reminder)
            report.sent.append(reminder)
        else:
            session.execute(delete(ReminderSent).where(*row))
            report.failed.append((reminder, failure))
    session.flush()
    return report


def _record_sent(session: Session, reminder: Reminder) -> None:
    """Write the reminder in the beta's history: the deadline's on the beta, else its checkpoint."""
    beta = session.get(Beta, reminder.beta_id)
    if reminder.checkpoint_id is None:
        record(
            session,
            None,
            "beta.reminded",
            beta,
            beta=beta,
            kind=reminder.kind.value,
            to=reminder.mail.to,
        )
        return
    checkpoint = session.get(Checkpoint, reminder.checkpoint_id)
    record(
        session,
        None,
        "checkpoint.reminded",
        checkpoint,
        beta=beta,
        months=checkpoint.months,
        to=reminder.mail.to,
    )


def send_due(session: Session, settings: Settings, today: date) -> Report:
    """Send today's due reminders, deadlines' and checkpoints'; safe to run often, and at once.

    The worker's and the `betas remind` command's one call. It commits twice, around the sending,
    so no transaction stays open while the mail server is slow: once for the claims, once for the
    outcome. Without SMTP configured it sends nothing and records nothing: the report lists what
    it would send.
    """
    reminders = due(session, settings, today)
    if settings.smtp is None:
        session.rollback()
        return Report(would_send=reminders)
    claimed = claim(session, reminders, today)
    session.commit()
    outcomes = mail.send(settings.smtp, settings.mail_from, [r.mail for r in claimed])
    report = settle(session, claimed, outcomes, today)
    session.commit()
    return report
