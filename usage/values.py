"""Metric values: per metric, per cohort and for all members, every day against the target.

For every metric with a rule, every cohort of the beta and all its members together, and every
day of SHIPCALL_TIMEZONE from the launch day to today: the members (memberships active at the
end of that day: joined by then, not left by then, so that leaving later never rewrites
history; a membership moved between cohorts counts in its current one), the accounts among
them that meet the rule that day, and the value (their percent of the members, or their count,
by the metric's unit); and the latest status against the target.

Computed from the rollup only, never the raw events: a statement for the memberships, one for
the cohorts, one for the event kinds, and one for every metric together, aggregated in SQL to a
row per membership and day with a matching event (a column per metric); the rest is a sweep in
Python over those rows, whatever the number of members, days and metrics. What is computed is
stored per metric, cohort and day (`usage.value_store`), and read back while it holds: a
request computes only the days from the first stale one (or, after a change of what the values
depend on besides events, from the launch), reading of the rollup only what those days need: a
window rule's window before them, a since-joined rule's totals per membership before them (one
more statement) and their days, and from the stored day before them which metrics were measured
(one more); one day alone, only each membership's totals over each rule's window ending then,
read as its stored totals over the window's completed days (`value_store.read_totals`, one
more statement) plus the rollup's days after them: today's alone, usually. Every computation
stores those totals for the next.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import accumulate
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from betas.errors import NotFound
from betas.exports import csv_lines, safe_cell
from betas.models import Beta, Direction, MetricUnit, SuccessMetric
from cohorts.models import Cohort, Membership
from usage import rules, value_store
from usage.rollup import day_of


class Status(enum.StrEnum):
    """Where a metric stands against its target on its latest day."""

    MET = "met"
    NOT_MET = "not_met"
    NOT_MEASURED = "not_measured"  # no member has sent a matching event yet


@dataclass(frozen=True)
class DayValue:
    """One day of a series: the members, the accounts that meet the rule, and the value."""

    day: date
    members: int
    accounts: int
    value: float | None  # None on a day without members, for a percent


@dataclass
class Series:
    """The days of one cohort (or of all members, with no cohort) for one metric."""

    cohort: str | None
    name: str
    kind: str | None
    days: list[DayValue] = field(default_factory=list)
    met: bool | None = None

    @property
    def latest(self) -> DayValue | None:
        """Return the last day of the series, if it has any."""
        return self.days[-1] if self.days else None


@dataclass
class MetricValues:
    """A metric's series per cohort and for all members, and its status."""

    metric: SuccessMetric
    status: Status
    cohorts: list[Series]
    all_members: Series


@dataclass
class BetaValues:
    """A beta's metric values over the days measured (None for a draft, or days out of range)."""

    beta: Beta
    first: date | None
    last: date | None
    metrics: list[MetricValues]


@dataclass(frozen=True)
class Member:
    """What the sweep needs of a membership: its cohort and the days it is a member."""

    id: int
    cohort_id: int
    first: int  # the day it joined
    last: int | None  # the last day it was a member at the day's end; None: still is


def launch_day(beta: Beta, zone: ZoneInfo) -> date | None:
    """Return the zone's day the beta launched, or None for a draft."""
    return beta.launched_at.astimezone(zone).date() if beta.launched_at else None


def measured_days(
    beta: Beta, today: date, zone: ZoneInfo, first: date | None = None, last: date | None = None
) -> tuple[date, date] | None:
    """Return the days measured: launch to today, narrowed to first..last; None if none."""
    launched = launch_day(beta, zone)
    if launched is None:
        return None
    first = max(launched, first or launched)
    last = min(today, last or today)
    return (first, last) if first <= last else None


def _memberships(session: Session, beta: Beta) -> list[tuple]:
    """Return (id, cohort, joined, left) of the beta's memberships that ever joined."""
    return [
        tuple(row)
        for row in session.execute(
            select(Membership.id, Membership.cohort_id, Membership.joined_at, Membership.left_at)
            .where(Membership.beta_id == beta.id, Membership.joined_at.is_not(None))
            .order_by(Membership.id)
        ).all()
    ]


def _members(session: Session, beta: Beta, zone: ZoneInfo) -> list[Member]:
    """Return the beta's members with their days in the zone."""
    members = []
    for membership_id, cohort_id, joined_at, left_at in _memberships(session, beta):
        # A member at the end of day D: joined before D's end and left at or after it.
        last = day_of(left_at, zone) - 1 if left_at is not None else None
        members.append(Member(membership_id, cohort_id, day_of(joined_at, zone), last))
    return members


def _clip(start: int, end: int | None, first: int, last: int) -> tuple[int, int] | None:
    start, end = max(start, first), min(last if end is None else end, last)
    return (start, end) if start <= end else None


def _add(diff: list[int], span: tuple[int, int] | None, first: int) -> None:
    if span is not None:
        diff[span[0] - first] += 1
        diff[span[1] - first + 1] -= 1


def _value(metric: SuccessMetric, members: int, accounts: int) -> float | None:
    if metric.unit == MetricUnit.COUNT:
        return float(accounts)
    return round(100 * accounts / members, 2) if members else None


def _met(metric: SuccessMetric, value: float | None) -> bool | None:
    if value is None:
        return None
    target = Decimal(str(metric.target))
    if metric.direction == Direction.AT_MOST:
        return Decimal(str(value)) <= target
    return Decimal(str(value)) >= target


@dataclass
class Counts:
    """A metric's counts per cohort from day `first` on: members, and accounts meeting the rule.

    `measured_from`: the first day a member had counted a matching event (None: none yet).
    """

    first: int
    cohorts: dict[int, tuple[list[int], list[int]]]
    measured_from: int | None


def _active(members: list[Member], first: int, last: int) -> list[tuple[Member, tuple[int, int]]]:
    """Return the members with a day from `first` to `last`, and their days within them."""
    spans = ((member, _clip(member.first, member.last, first, last)) for member in members)
    return [(member, span) for member, span in spans if span is not None]


def _members_per_cohort(
    active: list[tuple[Member, tuple[int, int]]], cohorts: list[Cohort], first: int, last: int
) -> dict[int, list[int]]:
    """Return each cohort's members per day from `first` to `last` (every metric's the same)."""
    diffs = {c.id: [0] * (last - first + 2) for c in cohorts}
    for member, span in active:
        _add(diffs[member.cohort_id], span, first)
    return {cohort: list(accumulate(diff))[:-1] for cohort, diff in diffs.items()}


def _counts(
    metric: SuccessMetric,
    daily: dict[int, dict[int, int]],
    before: dict[int, int],
    measured_before: bool,
    active: list[tuple[Member, tuple[int, int]]],
    members: dict[int, list[int]],
    first: int,
    last: int,
) -> Counts:
    """Sweep the active members' days: per cohort, a difference array of accounts meeting it.

    `daily` holds the days the rule needs from `first` on (`rules.reads_from`); `before` each
    membership's events (or days with one, by the rule) before `first` for a since-joined
    rule; `measured_before` whether a member had counted a matching event before `first`;
    `members` each cohort's members per day.
    """
    diffs = {cohort: [0] * (last - first + 2) for cohort in members}
    for member, span in active:
        counted = daily.get(member.id, {})
        prior = before.get(member.id, 0)
        if not counted and not prior:
            continue
        accounts_diff = diffs[member.cohort_id]
        for start, end in rules.meeting_spans(metric.rule, counted, prior, first):
            _add(accounts_diff, _clip(start, end, *span), first)
    running = {
        cohort: (members[cohort], list(accumulate(diff))[:-1]) for cohort, diff in diffs.items()
    }
    seen = [min(days) for days in daily.values() if days]
    if measured_before or before:
        seen.append(first - 1)
    return Counts(first, running, min(seen, default=None))


def _counts_of_day(
    metric: SuccessMetric,
    totals: dict[int, int],
    measured_before: bool,
    active: list[tuple[Member, tuple[int, int]]],
    members: dict[int, list[int]],
    day: int,
) -> Counts:
    """Count one day: the active members whose events (or days) over the rule's window meet it.

    `measured_before`: whether a member had counted a matching event before that day.
    """
    accounts = {cohort: [0] for cohort in members}
    for member, _days in active:
        if totals.get(member.id, 0) >= metric.rule["at_least"]:
            accounts[member.cohort_id][0] += 1
    measured = measured_before or bool(totals)
    return Counts(day, {c: (members[c], accounts[c]) for c in members}, day if measured else None)


def _series(metric: SuccessMetric, series: Series, members, accounts, first: int, measured: bool):
    for offset, (count, meeting) in enumerate(zip(members, accounts, strict=True)):
        value = _value(metric, count, meeting)
        series.days.append(DayValue(date.fromordinal(first + offset), count, meeting, value))
    latest = series.latest
    series.met = _met(metric, latest.value) if measured and latest else None
    return series


def _metric_values(
    metric: SuccessMetric, counts: Counts, cohorts: list[Cohort], first: int, last: int
) -> MetricValues:
    """Return the metric's series from first to last (days within the counts)."""
    cut = slice(first - counts.first, last - counts.first + 1)
    measured = counts.measured_from is not None and counts.measured_from <= last
    series = []
    for c in cohorts:
        members, accounts = counts.cohorts[c.id]
        series.append(
            _series(
                metric,
                Series(c.slug, c.name, c.kind.value),
                members[cut],
                accounts[cut],
                first,
                measured,
            )
        )
    everyone = Series(None, "All members", None)
    days = last - first + 1
    totals = [
        [sum(column) for column in zip(*parts, strict=True)] if parts else [0] * days
        for parts in (
            [counts.cohorts[c.id][0][cut] for c in cohorts],
            [counts.cohorts[c.id][1][cut] for c in cohorts],
        )
    ]
    all_members = _series(metric, everyone, *totals, first, measured)
    if not measured or all_members.met is None:
        status = Status.NOT_MEASURED
    else:
        status = Status.MET if all_members.met else Status.NOT_MET
    return MetricValues(metric, status, series, all_members)


def _compute(
    session: Session,
    beta: Beta,
    metrics: list[SuccessMetric],
    members: list[Member],
    cohorts: list[Cohort],
    launched: int,
    first: int,
    last: int,
    measured_before: Collection[int] = (),
    stored: tuple[int, value_store.Totals] | None = None,
) -> tuple[dict[int, Counts], value_store.Totals]:
    """Count every metric from the rollup, days `first` to `last`, reading only what they need.

    A statement for the days of every metric together, from the earliest a window reaches back
    to (`rules.reads_from`), and, from a day after the launch, one for the since-joined rules'
    totals before `first` (a row per membership). One day alone (today's events, or a new day)
    needs only each membership's totals over its window ending that day: one statement, a row
    per membership, and with `stored` (the day stored totals run through, and the totals:
    `value_store.read_totals`) only the rollup's days after them. `measured_before`: the
    metrics a member had counted a matching event for before `first` (the stored values say so).

    Also returned: each membership's totals for each metric over the completed days of its
    window ending `last` (through `last` - 1), for the next update of `last` to start from.
    """
    kinds = rules.matching_kinds(session, [m.rule for m in metrics]) if metrics else []
    active = _active(members, first, last)
    per_cohort = _members_per_cohort(active, cohorts, first, last)
    if first == last:
        counts, completed = _compute_day(session, beta, metrics, kinds, launched, first, stored)
        return {
            metric.id: _counts_of_day(
                metric, counts[metric.id], metric.id in measured_before, active, per_cohort, first
            )
            for metric in metrics
        }, completed
    firsts = [rules.reads_from(m.rule, launched, first) for m in metrics]
    daily = rules.daily_counts_of_each(
        session, beta.id, kinds, min(firsts, default=first), last, firsts=firsts
    )
    since_joined = [i for i, m in enumerate(metrics) if m.rule["window_days"] is None]
    totals = rules.totals(
        session,
        beta.id,
        [kinds[i] for i in since_joined],
        [metrics[i].rule["per"] == "day" for i in since_joined],
        [launched] * len(since_joined),
        first - 1,
    )
    before: list[dict[int, int]] = [{} for _ in metrics]
    for index, total in zip(since_joined, totals, strict=True):
        before[index] = total
    completed: value_store.Totals = {}
    for metric, counted, prior in zip(metrics, daily, before, strict=True):
        # A since-joined rule's days were read from `first`, with its totals before them.
        window_days = metric.rule["window_days"]
        since = first if window_days is None else rules.window_start(metric.rule, launched, last)
        completed[metric.id] = _completed(metric.rule, counted, prior, since, last)
    return {
        metric.id: _counts(
            metric, counted, prior, metric.id in measured_before, active, per_cohort, first, last
        )
        for metric, counted, prior in zip(metrics, daily, before, strict=True)
    }, completed


def _completed(
    rule: rules.Rule, daily: dict[int, dict[int, int]], before: dict[int, int], since: int, day: int
) -> dict[int, int]:
    """Return each membership's total over its days from `since` to `day` - 1.

    `daily` holds its days from `since` on (and maybe earlier ones, left out), `before` what it
    counted before them (a since-joined rule's totals).
    """
    per_day = rule["per"] == "day"
    found = dict(before)
    for membership, counted in daily.items():
        total = sum(1 if per_day else events for d, events in counted.items() if since <= d < day)
        if total:
            found[membership] = found.get(membership, 0) + total
    return found


def _compute_day(
    session: Session,
    beta: Beta,
    metrics: list[SuccessMetric],
    kinds: list[list[int]],
    launched: int,
    day: int,
    stored: tuple[int, value_store.Totals] | None,
) -> tuple[value_store.Totals, value_store.Totals]:
    """Return each metric's totals per membership over its window ending `day`, in one statement.

    A row per membership, no day to sweep, two columns per metric: its window's completed days
    and `day` itself. A metric's completed days start from its stored totals when they run
    through the day before, or for a since-joined metric through any day before (what came
    after them is added); else they are counted from the window's start. Also returned: the
    totals over the completed days, to store.
    """
    ends, held = stored if stored is not None else (None, {})
    starts, bases = [], []
    for metric in metrics:
        since_joined = metric.rule["window_days"] is None
        if ends is not None and (since_joined or ends == day - 1):
            starts.append(ends + 1)
            bases.append(held.get(metric.id, {}))
        else:
            starts.append(rules.window_start(metric.rule, launched, day))
            bases.append({})
    columns = rules.totals(
        session,
        beta.id,
        kinds + kinds,
        [m.rule["per"] == "day" for m in metrics] * 2,
        starts + [day] * len(metrics),
        day,
        lasts=[day - 1] * len(metrics) + [day] * len(metrics),
    )
    totals: value_store.Totals = {}
    completed: value_store.Totals = {}
    for index, metric in enumerate(metrics):
        through = _summed(bases[index], columns[index])
        completed[metric.id] = through
        totals[metric.id] = _summed(through, columns[len(metrics) + index])
    return totals, completed


def _summed(one: dict[int, int], other: dict[int, int]) -> dict[int, int]:
    if not one or not other:
        return dict(one or other)
    return {key: one.get(key, 0) + other.get(key, 0) for key in one.keys() | other.keys()}


def _stored_rows(counts: dict[int, Counts], last: int) -> list[dict]:
    return [
        {
            "metric_id": metric_id,
            "cohort_id": cohort_id,
            "day": counted.first + offset,
            "members": members[offset],
            "accounts": accounts[offset],
            "measured": counted.measured_from is not None
            and counted.measured_from <= counted.first + offset,
        }
        for metric_id, counted in counts.items()
        for cohort_id, (members, accounts) in counted.cohorts.items()
        for offset in range(last - counted.first + 1)
    ]


def _read_stored(
    session: Session, metrics: list[SuccessMetric], cohorts: list[Cohort], first: int, last: int
) -> dict[int, Counts]:
    days = last - first + 1
    counts = {
        m.id: Counts(first, {c.id: ([0] * days, [0] * days) for c in cohorts}, None)
        for m in metrics
    }
    for metric_id, cohort_id, day, members, accounts, measured in value_store.read(
        session, [m.id for m in metrics], first, last
    ):
        counted = counts[metric_id]
        counted.cohorts[cohort_id][0][day - first] = members
        counted.cohorts[cohort_id][1][day - first] = accounts
        if measured and (counted.measured_from is None or day < counted.measured_from):
            counted.measured_from = day
    return counts


def _signature(
    zone: ZoneInfo, launched: int, metrics: list[SuccessMetric], cohorts, members_version: int
) -> str:
    return value_store.signature(
        [
            str(zone),
            launched,
            [[m.id, m.rule] for m in metrics],
            [c.id for c in cohorts],
            members_version,
        ]
    )


def metric_values(
    session: Session,
    beta: Beta,
    today: date,
    zone: ZoneInfo,
    first: date | None = None,
    last: date | None = None,
    metric_id: int | None = None,
) -> list[MetricValues]:
    """Return the values of every metric with a rule, per cohort and for all members, per day.

    Only `metric_id`'s when given (NotFound when it has no rule). The days run from the launch
    day to today, narrowed to `first`..`last` when given. A draft's metrics have no days.

    Read from the stored values (`usage.value_store`) where they hold; the days from the first
    stale one to today are computed again from the rollup and stored, for every metric, in the
    caller's transaction. A session that may not write on SQLite computes without storing.
    """
    instrumented = [m for m in beta.metrics if m.rule]
    metrics = [m for m in instrumented if metric_id in (None, m.id)]
    if metric_id is not None and not metrics:
        raise NotFound(f"Beta {beta.key} has no instrumented metric {metric_id}.")
    days = measured_days(beta, today, zone, first, last)
    cohorts = list(
        session.scalars(
            select(Cohort).where(Cohort.beta_id == beta.id).order_by(Cohort.position, Cohort.id)
        )
    )
    if days is None:
        return [
            MetricValues(
                m,
                Status.NOT_MEASURED,
                [Series(c.slug, c.name, c.kind.value) for c in cohorts],
                Series(None, "All members", None),
            )
            for m in metrics
        ]
    start, end = days[0].toordinal(), days[1].toordinal()
    launched = launch_day(beta, zone).toordinal()
    if not value_store.may_store(session):
        members = _members(session, beta, zone)
        # From the launch: nothing stored says which metrics were measured before `start`.
        counts, _completed = _compute(
            session, beta, metrics, members, cohorts, launched, launched, end
        )
        return [_metric_values(m, counts[m.id], cohorts, start, end) for m in metrics]
    # Read, not taken from `beta`: this session may have changed memberships since loading it.
    version = session.scalar(select(Beta.members_version).where(Beta.id == beta.id))
    signature = _signature(zone, launched, instrumented, cohorts, version)
    through = today.toordinal()
    if value_store.read_mark(session, beta.id).stale_from(signature, launched) <= through:
        mark = value_store.lock(session, beta.id)
        stale = mark.stale_from(signature, launched)
        if stale <= through:
            members = _members(session, beta, zone)
            ids = [m.id for m in instrumented]
            measured = value_store.measured_on(session, ids, stale - 1) if stale > launched else ()
            held = mark.totals_hold(signature, stale)
            stored = None
            if stale == through and held is not None:
                stored = (held, value_store.read_totals(session, beta.id, ids))
            counts, completed = _compute(
                session,
                beta,
                instrumented,
                members,
                cohorts,
                launched,
                stale,
                through,
                measured,
                stored,
            )
            # The totals through the day before are stored, unless those are what held.
            value_store.replace(
                session,
                beta.id,
                ids,
                stale,
                _stored_rows(counts, through),
                value_store.Mark(signature, through, None, through - 1),
                None if stored is not None and held == through - 1 else completed,
            )
    counts = _read_stored(session, metrics, cohorts, start, end)
    return [_metric_values(m, counts[m.id], cohorts, start, end) for m in metrics]


def beta_values(
    session: Session,
    beta: Beta,
    today: date,
    zone: ZoneInfo,
    first: date | None = None,
    last: date | None = None,
) -> BetaValues:
    """Return every metric's values with the days they cover (see metric_values)."""
    days = measured_days(beta, today, zone, first, last)
    metrics = metric_values(session, beta, today, zone, first, last)
    return BetaValues(beta, *(days or (None, None)), metrics)


CSV_COLUMNS = ("metric", "cohort", "day", "members", "accounts", "value")


def values_csv(values: BetaValues) -> Iterator[str]:
    """Yield the series as CSV, a line at a time: a row per metric, cohort and day.

    All members together are the cohort "all members"; a value without members is empty.
    """

    def rows() -> Iterator[list]:
        yield list(CSV_COLUMNS)
        for metric in values.metrics:
            for series in [*metric.cohorts, metric.all_members]:
                cohort = series.cohort or "all members"
                for day in series.days:
                    value = "" if day.value is None else f"{day.value:g}"
                    yield [
                        safe_cell(metric.metric.name),
                        safe_cell(cohort),
                        day.day.isoformat(),
                        day.members,
                        day.accounts,
                        value,
                    ]

    return csv_lines(rows())
