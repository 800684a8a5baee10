"""Deadline reminders: which are due today, claimed once per beta and day, sent, then settled.

A running beta's owner hears when the deadline is 7 days away, when it is tomorrow, and every day
it is overdue, each time with the link to the review; never after a decision, never twice a day.
Days are those of SHIPCALL_TIMEZONE: the caller passes today in that zone.

Sending happens outside any transaction: a reminder is first claimed (a reminders_sent row, unique
per beta and day, committed), then sent, then settled (sent, or its claim removed so the next run
tries again). Two runs at once claim each reminder once: the unique constraint decides. A claim
left unsent by a run that died is taken over by a run STALE_CLAIM later.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import quote

from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from betas import mail
from betas.audit import record
from betas.config import Settings
from betas.db import utcnow
from betas.lifecycle import days_left
from betas.models import Beta, BetaState, ReminderKind, ReminderSent
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
    """One reminder due today: for which beta, why, and the mail that says it."""

    beta_id: int
    beta_key: str
    kind: ReminderKind
    mail: mail.Mail


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
        # Indented and never wrapped: mail readers make a link of a URL on its own line.
        f"    {review_url(settings, beta)}",
        extensions,
        "-- Shipcall",
    ]
    body = "\n\n".join(p if p.startswith("    ") else textwrap.fill(p, WIDTH) for p in paragraphs)
    return mail.Mail(to=beta.owner.email, subject=subject, body=body + "\n")


def due(session: Session, settings: Settings, today: date) -> list[Reminder]:
    """List the reminders due today that no live run has claimed, by the betas' keys."""
    already = exists().where(
        ReminderSent.beta_id == Beta.id,
        ReminderSent.day == today,
        or_(ReminderSent.sent_at.is_not(None), ReminderSent.claimed_at > utcnow() - STALE_CLAIM),
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
                ReminderSent.beta_id == reminder.beta_id,
                ReminderSent.day == today,
                ReminderSent.sent_at.is_(None),
                ReminderSent.claimed_at <= now - STALE_CLAIM,
            )
            .values(claimed_at=now, kind=reminder.kind, recipient=reminder.mail.to)
        )
        if taken_over.rowcount == 1:
            claimed.append(reminder)
            continue
        try:
            with session.begin_nested():
                session.add(
                    ReminderSent(
                        beta_id=reminder.beta_id,
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
        row = ReminderSent.beta_id == reminder.beta_id, ReminderSent.day == today
        if failure is None:
            session.execute(update(ReminderSent).where(*row).values(sent_at=now))
            beta = session.get(Beta, reminder.beta_id)
            record(
                session,
                None,
                "beta.reminded",
                beta,
                beta=beta,
                kind=reminder.kind.value,
                to=reminder.mail.to,
            )
            report.sent.append(reminder)
        else:
            session.execute(delete(ReminderSent).where(*row))
            report.failed.append((reminder, failure))
    session.flush()
    return report


def send_due(session: Session, settings: Settings, today: date) -> Report:
    """Send today's due reminders; safe to run as often as you like, from several places at once.

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
