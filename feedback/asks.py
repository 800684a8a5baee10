"""Ask only those who use it: who to ask for feedback, and the asks that were sent.

Anyone signed in reads the list; the beta's owner and admins export it and record asks.

The guide: "Sending a message requesting feedback to people who don't use the feature is a
waste ... it's important not to burn bridges". The list holds the active members who met a
metric's rule (or sent any event) in the last N days, as usage measures it
(`usage.activity.active_members`): an account with no usage is never on it. It leaves out the
accounts asked in the last SHIPCALL_ASK_COOLDOWN_DAYS days, in any beta (it is one customer,
however many betas ask), and says how many members were left out and why.

The cooldown counts days in SHIPCALL_TIMEZONE: asked on a day, an account is left out on that
day and the next `cooldown - 1` days, and may be asked again after. An ask is recorded when
the list is exported, by hand, or through the API; an account in the cooldown is reported,
never asked twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from betas.audit import Actor, record
from betas.auth.permissions import require_edit
from betas.errors import Conflict, Invalid
from betas.exports import csv_lines, safe_cell
from betas.models import Beta, BetaState, SuccessMetric
from cohorts.models import Account, Membership, MembershipStatus
from feedback.models import CHANNEL_MAX, Ask
from usage import activity

DEFAULT_DAYS = 14
MAX_DAYS = 365
MAX_ACCOUNTS = 1_000
# Members who said no: never asked, whatever they did.
GONE = (MembershipStatus.OPTED_OUT, MembershipStatus.DECLINED, MembershipStatus.REMOVED)
CSV_COLUMNS = ("account_id", "name", "cohort", "last_seen_at", "events")


def _problem(field: str, message: str) -> Invalid:
    return Invalid(message, [{"field": field, "message": message}])


def cooldown_start(today: date, cooldown_days: int, zone: ZoneInfo) -> datetime | None:
    """Return the moment from which an ask keeps an account out today (None: no cooldown)."""
    if cooldown_days <= 0:
        return None
    first_day = today - timedelta(days=cooldown_days - 1)
    return datetime.combine(first_day, time(0), tzinfo=zone)


def last_asked(
    session: Session, account_ids: Sequence[int], since: datetime | None
) -> dict[int, datetime]:
    """Return {account id: its latest ask since `since`} in any beta, for these accounts."""
    if since is None or not account_ids:
        return {}
    rows = session.execute(
        select(Ask.account_id, func.max(Ask.asked_at))
        .where(Ask.account_id.in_(list(account_ids)), Ask.asked_at >= since)
        .group_by(Ask.account_id)
    )
    return dict(rows.all())


def _metric(beta: Beta, metric_id: int | None) -> SuccessMetric | None:
    if metric_id is None:
        return None
    metric = next((m for m in beta.metrics if m.id == metric_id), None)
    if metric is None:
        raise _problem("metric", f"Beta {beta.key} has no metric {metric_id}.")
    if not metric.rule:
        raise _problem("metric", f"The metric {metric.name!r} has no rule over events yet.")
    return metric


def _days(days: int) -> int:
    if not 1 <= days <= MAX_DAYS:
        raise _problem("days", f"Give between 1 and {MAX_DAYS} days.")
    return days


@dataclass(frozen=True)
class LeftOut:
    """How many members were left out, and why."""

    not_using: int  # met neither the rule nor anything in the days (invited ones too)
    cooldown: int  # used it, but were asked too recently
    opted_out: int  # opted out, declined or were removed: never asked


@dataclass(frozen=True)
class AskList:
    """Who to ask: the members who used it, with their usage, and those left out."""

    beta: Beta
    metric: SuccessMetric | None
    days: int
    accounts: list[activity.Activity]
    left_out: LeftOut
    cooldown_days: int


def who_to_ask(
    session: Session,
    beta: Beta,
    *,
    metric_id: int | None,
    days: int,
    today: date,
    zone: ZoneInfo,
    cooldown_days: int,
) -> AskList:
    """Return the members to ask for feedback, with their usage, and how many were left out.

    Refused for an unknown metric or one without a rule, and for days outside 1..MAX_DAYS.
    """
    metric = _metric(beta, metric_id)
    users = activity.active_members(session, beta, metric=metric, days=_days(days), today=today)
    by_status = dict(
        session.execute(
            select(Membership.status, func.count())
            .where(Membership.beta_id == beta.id)
            .group_by(Membership.status)
        ).all()
    )
    gone = sum(by_status.get(status, 0) for status in GONE)
    recent = last_asked(
        session,
        [a.membership.account_id for a in users],
        cooldown_start(today, cooldown_days, zone),
    )
    chosen = [a for a in users if a.membership.account_id not in recent]
    return AskList(
        beta=beta,
        metric=metric,
        days=days,
        accounts=chosen,
        left_out=LeftOut(
            not_using=sum(by_status.values()) - gone - len(users),
            cooldown=len(users) - len(chosen),
            opted_out=gone,
        ),
        cooldown_days=cooldown_days,
    )


def ask_list_csv(found: AskList, zone: ZoneInfo) -> Iterator[str]:
    """Yield the list as CSV for the messaging tool: account, name, cohort, last seen, events."""

    def rows() -> Iterator[Sequence[object]]:
        yield CSV_COLUMNS
        for a in found.accounts:
            m = a.membership
            yield (
                safe_cell(m.account.external_id),
                safe_cell(m.account.name),
                m.cohort.slug,
                a.last_seen_at.astimezone(zone).isoformat(timespec="seconds")
                if a.last_seen_at
                else "",
                a.event_count,
            )

    return csv_lines(rows())


@dataclass(frozen=True)
class Asked:
    """What recording asks did: the accounts asked, and those left out for the cooldown."""

    asked: list[Ask]
    cooldown: list[str]  # external ids, asked too recently (in any beta)


def _channel(value: str | None) -> str:
    text = (value or "").strip()
    if not text:
        raise _problem("channel", "Say how they were asked: email, Intercom, in the app...")
    if len(text) > CHANNEL_MAX:
        raise _problem("channel", f"At most {CHANNEL_MAX} characters; this is {len(text)}.")
    return text


def _askable(session: Session, beta: Beta, external_ids: Sequence[str]) -> list[Account]:
    wanted = list(dict.fromkeys(e.strip() for e in external_ids if e and e.strip()))
    if not wanted:
        raise _problem("accounts", "Name at least one account to ask.")
    if len(wanted) > MAX_ACCOUNTS:
        raise _problem("accounts", f"At most {MAX_ACCOUNTS:,} accounts at once.")
    rows = session.execute(
        select(Account, Membership.status)
        .outerjoin(
            Membership,
            (Membership.account_id == Account.id) & (Membership.beta_id == beta.id),
        )
        .where(Account.external_id.in_(wanted))
    ).all()
    found = {account.external_id: (account, status) for account, status in rows}
    outside = [e for e in wanted if e not in found or found[e][1] is None]
    if outside:
        raise _problem("accounts", f"Not in this beta: {', '.join(outside)}.")
    gone = [e for e in wanted if found[e][1] in GONE]
    if gone:
        raise _problem(
            "accounts", f"Opted out, declined or removed, never asked: {', '.join(gone)}."
        )
    return [found[e][0] for e in wanted]


def record_asks(
    session: Session,
    actor: Actor,
    beta: Beta,
    external_ids: Sequence[str],
    channel: str | None,
    *,
    now: datetime,
    zone: ZoneInfo,
    cooldown_days: int,
) -> Asked:
    """Record that these accounts were asked for feedback, leaving out those in the cooldown.

    The beta's owner and admins ask (PMs own what customers are sent). Refused on a draft,
    without a channel, for an account that is not in the beta or that opted out, declined or
    was removed.
    """
    require_edit(actor.user, beta)
    if beta.state == BetaState.DRAFT:
        raise Conflict("A draft beta has no customers yet: nobody to ask.")
    accounts = _askable(session, beta, external_ids)
    how = _channel(channel)
    today = now.astimezone(zone).date()
    recent = last_asked(
        session, [a.id for a in accounts], cooldown_start(today, cooldown_days, zone)
    )
    asked = [
        Ask(beta=beta, account=a, channel=how, asked_at=now, asked_by=actor.user)
        for a in accounts
        if a.id not in recent
    ]
    cooldown = [a.external_id for a in accounts if a.id in recent]
    session.add_all(asked)
    if asked:
        record(
            session,
            actor,
            "ask.recorded",
            beta,
            beta=beta,
            channel=how,
            accounts=[a.account.external_id for a in asked],
            cooldown=cooldown,
        )
    session.flush()
    return Asked(asked, cooldown)


def export_asks(
    session: Session,
    actor: Actor,
    beta: Beta,
    channel: str | None,
    *,
    metric_id: int | None,
    days: int,
    now: datetime,
    zone: ZoneInfo,
    cooldown_days: int,
) -> AskList:
    """Return who to ask and record an ask for each (the export's transaction, the caller's).

    Refused as who_to_ask() and record_asks() are; and when nobody is on the list.
    """
    found = who_to_ask(
        session,
        beta,
        metric_id=metric_id,
        days=days,
        today=now.astimezone(zone).date(),
        zone=zone,
        cooldown_days=cooldown_days,
    )
    if not found.accounts:
        raise Conflict("Nobody is on the list: there is no one to ask.")
    record_asks(
        session,
        actor,
        beta,
        [a.membership.account.external_id for a in found.accounts],
        channel,
        now=now,
        zone=zone,
        cooldown_days=cooldown_days,
    )
    return found


def count_asks(session: Session, beta: Beta) -> int:
    """Return how many asks for feedback the beta sent (one per account asked, each time)."""
    return session.scalar(select(func.count()).select_from(Ask).where(Ask.beta_id == beta.id)) or 0


def recent_asks(session: Session, beta: Beta, limit: int = 20) -> list[Ask]:
    """Return the beta's latest asks, newest first, with their account and who asked."""
    return list(
        session.scalars(
            select(Ask)
            .where(Ask.beta_id == beta.id)
            .options(selectinload(Ask.account), selectinload(Ask.asked_by))
            .order_by(Ask.asked_at.desc(), Ask.id.desc())
            .limit(limit)
        )
    )
