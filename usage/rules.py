"""Match a metric's rule to the events: which event kinds it counts, and who meets it when.

A rule (betas.metric_rules) names event patterns, a number, what is counted (events, or days
with an event) and a window. Here:

- `matches(rule, kind)` and `matching_kinds(session, rules)`: the event kinds each rule counts (a
  pattern without a place matches every place);
- `meeting_spans(rule, daily)`: the days on which a membership meets the rule: its matching
  events within the window ending that day (the last 7, 14 or 28 days, or every day since it
  joined) number at least N, or fall on at least N days;
- `reads_from(rule, launched, first)`, `window_start(...)` and `totals(...)`: what the days
  from `first` on need of the rollup: a window rule the window before `first`, a since-joined
  rule each membership's totals before `first` (one aggregated row per membership) and the
  days after; one day alone needs only each membership's totals over its window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Select, case, func, literal, select
from sqlalchemy.orm import Session

from betas.db import among
from cohorts.models import Membership
from usage.models import EventKind, UsageDay

Rule = Mapping[str, Any]
# A membership's matching events per day number, counted from its join time.
Daily = Mapping[int, int]
# Days (first, last), inclusive, as day numbers; a last of None: from then on.
Span = tuple[int, int | None]


class KindRow(Protocol):
    """What matching needs of an event kind."""

    id: int
    action: str
    object: str
    place: str


def matches(rule: Rule, kind: KindRow) -> bool:
    """Tell whether an event kind is one the rule counts."""
    return any(
        pattern["action"] == kind.action
        and pattern["object"] == kind.object
        and pattern.get("place", kind.place) == kind.place
        for pattern in rule["events"]
    )


def all_kinds(session: Session) -> list[KindRow]:
    """Return every event kind (the product has a few dozen), in one statement."""
    return list(
        session.execute(
            select(EventKind.id, EventKind.action, EventKind.object, EventKind.place).order_by(
                EventKind.action, EventKind.object, EventKind.place
            )
        ).all()
    )


def matching_kinds(session: Session, rules: Sequence[Rule]) -> list[list[int]]:
    """Return the ids of the kinds each rule counts, reading the kinds once for all."""
    kinds = all_kinds(session)
    return [[kind.id for kind in kinds if matches(rule, kind)] for rule in rules]


def _since_joining(query: Select, beta_id: int, kinds: list[int], first: int, last: int) -> Select:
    """Narrow a query to the rollup rows of these kinds and days counted for the beta's members.

    A row counts for a membership from the moment it joined (`since >= joined_at`).
    """
    days, members = UsageDay.__table__.c, Membership.__table__.c
    return query.select_from(
        Membership.__table__.join(UsageDay.__table__, days.account_id == members.account_id)
    ).where(
        members.beta_id == beta_id,
        members.joined_at.is_not(None),
        days.since >= members.joined_at,
        days.kind_id.in_(kinds),
        days.day.between(first, last),
    )


def daily_counts(
    session: Session,
    beta_id: int,
    kinds: Iterable[int],
    first: int,
    last: int,
    memberships: Collection[int] | None = None,
) -> dict[int, dict[int, int]]:
    """Return {membership id: {day: events}} of these kinds from `first` to `last`.

    Only what each account did from the moment its membership joined counts; only the
    `memberships` given, when given.
    """
    return daily_counts_of_each(session, beta_id, [list(kinds)], first, last, memberships)[0]


def daily_counts_of_each(
    session: Session,
    beta_id: int,
    kinds: Sequence[Sequence[int]],
    first: int,
    last: int,
    memberships: Collection[int] | None = None,
    firsts: Sequence[int] | None = None,
) -> list[dict[int, dict[int, int]]]:
    """Return daily_counts for each list of kinds (each rule's), in one statement for all.

    Aggregated in SQL to a row per membership and day with a matching event, a column per list:
    the rollup is read once, whatever the members, days and rules. `firsts`, when given: the
    day each list counts from (none before `first`), so a since-joined rule's days stay apart
    from the totals before them while a window rule's column reaches back over its window.
    """
    counts: list[dict[int, dict[int, int]]] = [defaultdict(dict) for _ in kinds]
    every = sorted({kind for listed in kinds for kind in listed})
    if not every or last < first or (memberships is not None and not memberships):
        return counts
    days, members = UsageDay.__table__.c, Membership.__table__.c
    firsts = [max(first, day) for day in firsts] if firsts is not None else [first] * len(kinds)
    columns = [
        func.sum(case((days.kind_id.in_(listed) & (days.day >= since), days.events), else_=0))
        if listed
        else literal(0)
        for listed, since in zip(kinds, firsts, strict=True)
    ]
    query = _since_joining(
        select(members.id, days.day, *columns), beta_id, every, first, last
    ).group_by(members.id, days.day)
    if memberships is not None:
        query = query.where(among(session, members.id, memberships))
    for membership_id, day, *events in session.execute(query).all():
        for index, count in enumerate(events):
            if count:
                counts[index][membership_id][day] = int(count)
    return counts


def window_start(rule: Rule, launched: int, day: int) -> int:
    """Return the first day of the rule's window ending on `day` (the launch, since joining)."""
    window = rule["window_days"]
    return launched if window is None else max(launched, day - window + 1)


def reads_from(rule: Rule, launched: int, first: int) -> int:
    """Return the first day of the rollup that the rule's days from `first` on depend on.

    A window rule: the window ending on `first`; a since-joined rule: `first` itself, with the
    totals before it (`totals`).
    """
    return first if rule["window_days"] is None else window_start(rule, launched, first)


def totals(
    session: Session,
    beta_id: int,
    kinds: Sequence[Sequence[int]],
    per_day: Sequence[bool],
    froms: Sequence[int],
    last: int,
    lasts: Sequence[int] | None = None,
    memberships: Collection[int] | None = None,
) -> list[dict[int, int]]:
    """Return, for each list of kinds, {membership id: its events, or its days with an event}.

    Days where the list's `per_day` says so, else events; each list's from its day in `froms`
    through `last` (or its day in `lasts`, when given), counted from each membership's join;
    only the `memberships` given, when given. Aggregated in SQL to one row per membership (a
    column per list), in one statement, none when no list has a day to count.
    """
    found: list[dict[int, int]] = [{} for _ in kinds]
    lasts = [min(last, day) for day in lasts] if lasts is not None else [last] * len(kinds)
    every = sorted({kind for listed in kinds for kind in listed})
    spans = [(since, until) for since, until in zip(froms, lasts, strict=True) if since <= until]
    if not every or not spans:
        return found
    days, members = UsageDay.__table__.c, Membership.__table__.c
    columns = []
    for listed, days_of, since, until in zip(kinds, per_day, froms, lasts, strict=True):
        matching = (
            (days.kind_id.in_(listed) & days.day.between(since, until))
            if listed and since <= until
            else literal(False)
        )
        if days_of:
            with_events = matching & (days.events > 0)
            columns.append(func.count(func.distinct(case((with_events, days.day)))))
        else:
            columns.append(func.sum(case((matching, days.events), else_=0)))
    first = min(since for since, _until in spans)
    query = _since_joining(
        select(members.id, *columns), beta_id, every, first, max(until for _s, until in spans)
    )
    if memberships is not None:
        query = query.where(among(session, members.id, memberships))
    query = query.group_by(members.id)
    for membership_id, *counted in session.execute(query).all():
        for index, count in enumerate(counted):
            if count:
                found[index][membership_id] = int(count)
    return found


def meeting_spans(rule: Rule, daily: Daily, before: int = 0, first: int = 0) -> list[Span]:
    """Return the spans of days on which a membership meets the rule, in order.

    The last span may have no end (None): it meets from then on. Time is spent on the
    membership's days with an event and the days their window ends, never on the days between.
    For a since-joined rule, `before` is what the membership counted (events, or days) before
    day `first`, where `daily` begins: one that met the rule already meets from `first` on.
    """
    per_day = rule["per"] == "day"
    window = rule["window_days"]
    at_least = rule["at_least"]
    if window is None and before >= at_least:
        return [(first, None)]
    days = sorted(day for day, events in daily.items() if events > 0)
    if window is None:
        # Since joining nothing leaves the count: it meets from the day it reaches N, for good.
        running = before
        for day in days:
            running += 1 if per_day else daily[day]
            if running >= at_least:
                return [(day, None)]
        return []
    changes: dict[int, int] = defaultdict(int)
    for day in days:
        amount = 1 if per_day else daily[day]
        changes[day] += amount
        changes[day + window] -= amount
    spans: list[Span] = []
    running, start = 0, None
    for day in sorted(changes):
        running += changes[day]
        if running >= at_least:
            if start is None:
                start = day
        elif start is not None:
            spans.append((start, day - 1))
            start = None
    if start is not None:
        spans.append((start, None))
    return spans
