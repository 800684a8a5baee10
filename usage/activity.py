"""What an account has and hasn't done in a beta: its usage since joining, the metrics it meets.

For a membership: when it joined, when it was last seen (its latest event since joining), its
events since joining by kind (count, days with one, the last), and for each instrumented metric
of the beta whether it counts today (meets the rule; a member who left counts for none), said
in words: "did: opened scheduled report on 5 days; did not: scheduled a report".

Read from the rollup only (rows from the join time on, `since >= joined_at`), never the raw
events, and for many memberships at once in a fixed number of statements: the event kinds, the
usage by kind, and one for every metric's window ending today (`rules.totals`), whatever the
number of members.
`active_members` is the service other packages call: the members who meet a metric's rule (or
did anything) within the last N days, with their usage.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from betas.errors import Invalid, NotFound
from betas.models import Beta, SuccessMetric
from betas.wording import plural
from cohorts import memberships, roster
from cohorts.models import Membership, MembershipStatus
from usage import rules
from usage.models import EventKind, UsageDay


@dataclass(frozen=True)
class KindUsage:
    """An account's events of one kind since it joined: how many, on how many days, the last."""

    action: str
    object: str
    place: str
    count: int
    days: int
    last_at: datetime

    @property
    def words(self) -> str:
        """Say it in words: 'opened report at inbox on 5 days'."""
        where = f" at {self.place}" if self.place else ""
        return f"{self.action} {self.object}{where} on {plural(self.days, 'day')}"


@dataclass(frozen=True)
class MetricCheck:
    """Whether the account counts today for an instrumented metric, and what it did toward it."""

    metric: SuccessMetric
    counts: bool
    did: list[KindUsage]  # its events since joining of the kinds the rule counts

    @property
    def wanted(self) -> str:
        """Say what the rule asks for: 'scheduled a report' (or another of its events)."""
        return " or ".join(_asked(pattern) for pattern in self.metric.rule["events"])


@dataclass
class Activity:
    """A membership's usage in its beta since it joined, and each metric's check."""

    membership: Membership
    last_seen_at: datetime | None = None
    events: list[KindUsage] = field(default_factory=list)
    metrics: list[MetricCheck] = field(default_factory=list)

    @property
    def event_count(self) -> int:
        """Return how many events the account had since joining."""
        return sum(kind.count for kind in self.events)

    @property
    def summary(self) -> str:
        """Say which metrics it counts for and not: 'did: …; did not: …' ('' without metrics)."""
        did = [k.words for check in self.metrics if check.counts for k in check.did]
        did_not = [check.wanted for check in self.metrics if not check.counts]
        parts = [f"did: {', '.join(did)}"] if did else []
        if did_not:
            parts.append(f"did not: {', '.join(did_not)}")
        return "; ".join(parts)


def _asked(pattern: dict[str, str]) -> str:
    article = "an" if pattern["object"][:1] in "aeiou" else "a"
    place = pattern.get("place")
    return f"{pattern['action']} {article} {pattern['object']}" + (f" at {place}" if place else "")


def _usage_by_kind(
    session: Session, beta: Beta, membership_ids: list[int]
) -> dict[int, dict[int, KindUsage]]:
    """Return {membership id: {kind id: usage}} since each joined, in one statement."""
    rows = session.execute(
        select(
            Membership.id,
            EventKind.id,
            EventKind.action,
            EventKind.object,
            EventKind.place,
            func.sum(UsageDay.events),
            # A day may be split by several joins (of other betas): count each day once.
            func.count(UsageDay.day.distinct()),
            func.max(UsageDay.last_at),
        )
        .join(UsageDay, UsageDay.account_id == Membership.account_id)
        .join(EventKind, EventKind.id == UsageDay.kind_id)
        .where(
            Membership.beta_id == beta.id,
            Membership.id.in_(membership_ids),
            Membership.joined_at.is_not(None),
            UsageDay.since >= Membership.joined_at,
        )
        .group_by(Membership.id, EventKind.id, EventKind.action, EventKind.object, EventKind.place)
    )
    usage: dict[int, dict[int, KindUsage]] = defaultdict(dict)
    for membership_id, kind_id, action, object_, place, count, days, last_at in rows:
        usage[membership_id][kind_id] = KindUsage(
            action, object_, place, int(count), int(days), last_at
        )
    return usage


def activities(
    session: Session, beta: Beta, members: Sequence[Membership], today: date
) -> dict[int, Activity]:
    """Return {membership id: activity} of these memberships of the beta, as of `today`.

    A fixed number of statements whatever the members: the usage by kind, the kinds, and one for
    every instrumented metric together. A membership that never joined has no usage.
    """
    metrics = [m for m in beta.metrics if m.rule]
    found = {m.id: Activity(m) for m in members}
    joined = [m.id for m in members if m.joined_at is not None]
    if not joined:
        for activity in found.values():
            activity.metrics = [MetricCheck(metric, False, []) for metric in metrics]
        return found
    usage = _usage_by_kind(session, beta, joined)
    kinds = rules.matching_kinds(session, [m.rule for m in metrics]) if metrics else []
    day = today.toordinal()
    # Whether it meets a rule today is its total over the window ending today (since joining:
    # from day 1, the join alone bounding it): one statement for every metric, a row per member.
    totals = rules.totals(
        session,
        beta.id,
        kinds,
        [m.rule["per"] == "day" for m in metrics],
        [rules.window_start(m.rule, 1, day) for m in metrics],
        day,
        memberships=joined,
    )
    for membership_id, activity in found.items():
        mine = usage.get(membership_id, {})
        activity.events = sorted(
            mine.values(), key=lambda k: (-k.count, k.action, k.object, k.place)
        )
        activity.last_seen_at = max((k.last_at for k in mine.values()), default=None)
        # A member who left is not one today: it counts for no metric.
        present = activity.membership.left_at is None
        activity.metrics = [
            MetricCheck(
                metric,
                present and total.get(membership_id, 0) >= metric.rule["at_least"],
                [mine[kind_id] for kind_id in kind_ids if kind_id in mine],
            )
            for metric, kind_ids, total in zip(metrics, kinds, totals, strict=True)
        ]
    return found


def member_activity(session: Session, beta: Beta, external_id: str, today: date) -> Activity:
    """Return the activity of the account in the beta; NotFound when it is not in it."""
    membership = memberships.get_membership(session, beta, external_id)
    if membership is None:
        raise NotFound(f"Account {external_id!r} is not in beta {beta.key}.")
    return activities(session, beta, [membership], today)[membership.id]


def account_activity(session: Session, external_id: str, today: date) -> list[Activity]:
    """Return the account's activity in every beta it joined, the most recent first."""
    account = roster.get_account(session, external_id)
    joined = session.scalars(
        select(Membership)
        .where(Membership.account_id == account.id, Membership.joined_at.is_not(None))
        .options(selectinload(Membership.beta).selectinload(Beta.metrics))
        .order_by(Membership.joined_at.desc())
    )
    return [activities(session, m.beta, [m], today)[m.id] for m in joined]


def active_members(
    session: Session,
    beta: Beta,
    *,
    metric: SuccessMetric | None = None,
    days: int,
    today: date,
) -> list[Activity]:
    """Return the active members who met the metric's rule on any of the last `days` days.

    With no metric: those with any event since joining in those days. Each comes with its usage
    (last seen, events by kind), in the roster's order; a fixed number of statements.
    """
    if days < 1:
        raise Invalid("Give at least 1 day.", [{"field": "days", "message": "At least 1."}])
    if metric is not None and not metric.rule:
        raise NotFound(f"Metric {metric.name!r} has no rule over events.")
    members = [
        m
        for m in roster.members(session, beta, statuses={MembershipStatus.ACTIVE})
        if m.joined_at is not None
    ]
    ids = [m.id for m in members]
    last, first = today.toordinal(), today.toordinal() - days + 1
    if metric is None:
        kinds = [kind.id for kind in rules.all_kinds(session)]
        daily = rules.daily_counts(session, beta.id, kinds, first, last, ids)
        chosen = [m for m in members if m.id in daily]
    else:
        kinds = rules.matching_kinds(session, [metric.rule])[0]
        # A window (or "since joining") reaches back before `first`: count from the start.
        daily = rules.daily_counts(session, beta.id, kinds, 1, last, ids)
        chosen = [m for m in members if _met_within(metric.rule, daily.get(m.id, {}), first, last)]
    found = activities(session, beta, chosen, today)
    return [found[m.id] for m in chosen]


def _met_within(rule: rules.Rule, daily: rules.Daily, first: int, last: int) -> bool:
    return any(
        start <= last and (end is None or first <= end)
        for start, end in rules.meeting_spans(rule, daily)
    )
