"""Counting a beta's metrics from the rollup: per cohort and day, members and accounts meeting.

The members of a cohort on a day are its memberships active at that day's end (joined by then,
not left by then). A statement for the memberships, one for the event kinds, and one for every
metric together, aggregated in SQL to a row per membership and day with a matching event (a
column per metric); the rest is a sweep in Python over those rows with difference arrays,
whatever the number of members, days and metrics. `compute` reads of the rollup only what the
days asked need: a window rule's window before them, a since-joined rule's totals per
membership before them (one more statement) and their days; one day alone, only each
membership's totals over each rule's window ending then, from its stored totals over the
window's completed days (`value_store.read_totals`) plus the rollup's days after them, usually
that day alone. Beside the counts it returns those totals through the last day but one, for
the stored values to start from next time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from itertools import accumulate
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from betas.models import Beta, SuccessMetric
from cohorts.models import Cohort, Membership
from usage import rules, value_store
from usage.rollup import day_of


@dataclass(frozen=True)
class Member:
    """What the sweep needs of a membership: its cohort and the days it is a member."""

    id: int
    cohort_id: int
    first: int  # the day it joined
    last: int | None  # the last day it was a member at the day's end; None: still is


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


def members(session: Session, beta: Beta, zone: ZoneInfo) -> list[Member]:
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
    at_least = metric.rule["at_least"]
    meeting = Counter(
        member.cohort_id for member, _days in active if totals.get(member.id, 0) >= at_least
    )
    measured = measured_before or bool(totals)
    return Counts(day, {c: (members[c], [meeting[c]]) for c in members}, day if measured else None)


def compute(
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


def _summed(base: dict[int, int], added: dict[int, int]) -> dict[int, int]:
    """Return base + added, key by key; `added` is the smaller (the rollup's days after `base`)."""
    summed = dict(base)
    for key, count in added.items():
        summed[key] = summed.get(key, 0) + count
    return summed
