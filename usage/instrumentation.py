"""What a beta's members have sent: the event kinds seen, and whether each rule matched any yet.

Read from the rollup, counting only what each member did from the moment it joined, in one
statement whatever the members and days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from betas.models import Beta, SuccessMetric
from cohorts.models import Membership
from usage import rules
from usage.models import EventKind, UsageDay


@dataclass(frozen=True)
class SeenKind:
    """An event kind the beta's members sent: how many events, and the last one when."""

    id: int
    action: str
    object: str
    place: str
    count: int
    last_seen: datetime


@dataclass(frozen=True)
class RuleCheck:
    """Whether any event seen matches a metric's rule yet, and how many did."""

    metric: SuccessMetric
    kinds: list[SeenKind]

    @property
    def matched(self) -> bool:
        """Tell whether any event matches the rule."""
        return bool(self.kinds)

    @property
    def events(self) -> int:
        """Return how many events seen match the rule."""
        return sum(kind.count for kind in self.kinds)


@dataclass(frozen=True)
class Instrumentation:
    """The kinds a beta's members sent, and each instrumented metric's check."""

    kinds: list[SeenKind]
    checks: list[RuleCheck]
    uninstrumented: list[SuccessMetric]


def seen_kinds(session: Session, beta: Beta) -> list[SeenKind]:
    """Return the event kinds the beta's members sent since they joined, most sent first."""
    rows = session.execute(
        select(
            EventKind.id,
            EventKind.action,
            EventKind.object,
            EventKind.place,
            func.sum(UsageDay.events),
            func.max(UsageDay.last_at),
        )
        .join(UsageDay, UsageDay.kind_id == EventKind.id)
        .join(Membership, Membership.account_id == UsageDay.account_id)
        .where(
            Membership.beta_id == beta.id,
            Membership.joined_at.is_not(None),
            UsageDay.since >= Membership.joined_at,
        )
        .group_by(EventKind.id, EventKind.action, EventKind.object, EventKind.place)
    ).all()
    kinds = [SeenKind(*row[:4], int(row[4]), row[5]) for row in rows]
    return sorted(kinds, key=lambda k: (-k.count, k.action, k.object, k.place))


def instrumentation(session: Session, beta: Beta) -> Instrumentation:
    """Return what the beta's members sent, and for each rule whether any of it matched."""
    kinds = seen_kinds(session, beta)
    checks = [
        RuleCheck(metric, [kind for kind in kinds if rules.matches(metric.rule, kind)])
        for metric in beta.metrics
        if metric.rule
    ]
    return Instrumentation(kinds, checks, [m for m in beta.metrics if not m.rule])
