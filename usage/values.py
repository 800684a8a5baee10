"""Metric values: per metric, per cohort and for all members, every day against the target.

For every metric with a rule, every cohort of the beta and all its members together, and every
day of SHIPCALL_TIMEZONE from the launch day to today: the members (memberships active at the
end of that day: joined by then, not left by then, so that leaving later never rewrites
history; a membership moved between cohorts counts in its current one), the accounts among
them that meet the rule that day, and the value (their percent of the members, or their count,
by the metric's unit); and the latest status against the target.

Counted from the rollup only, never the raw events (`usage.counting`). What is counted is
stored per metric, cohort and day (`usage.value_store`), and read back while it holds: a request
computes only the days from the first stale one (or, after a change of what the values depend
on besides events, from the launch), and stores them with each membership's totals for the
next; from the stored day before them it reads which metrics were measured by then.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from betas.errors import NotFound
from betas.exports import csv_lines, safe_cell
from betas.models import Beta, Direction, MetricUnit, SuccessMetric
from cohorts.models import Cohort
from usage import counting, value_store


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


def _series(metric: SuccessMetric, series: Series, members, accounts, first: int, measured: bool):
    for offset, (count, meeting) in enumerate(zip(members, accounts, strict=True)):
        value = _value(metric, count, meeting)
        series.days.append(DayValue(date.fromordinal(first + offset), count, meeting, value))
    latest = series.latest
    series.met = _met(metric, latest.value) if measured and latest else None
    return series


def _metric_values(
    metric: SuccessMetric, counts: counting.Counts, cohorts: list[Cohort], first: int, last: int
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


def _stored_rows(counts: dict[int, counting.Counts], last: int) -> list[dict]:
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
) -> dict[int, counting.Counts]:
    days = last - first + 1
    counts = {
        m.id: counting.Counts(first, {c.id: ([0] * days, [0] * days) for c in cohorts}, None)
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
        members = counting.members(session, beta, zone)
        # From the launch: nothing stored says which metrics were measured before `start`.
        counts, _completed = counting.compute(
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
            members = counting.members(session, beta, zone)
            ids = [m.id for m in instrumented]
            measured = value_store.measured_on(session, ids, stale - 1) if stale > launched else ()
            held = mark.totals_hold(signature, stale)
            stored = None
            if stale == through and held is not None:
                stored = (held, value_store.read_totals(session, beta.id, ids))
            counts, completed = counting.compute(
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
