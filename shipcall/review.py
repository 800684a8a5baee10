"""The ship / no-ship review: every package's evidence on one beta, a recommendation, a snapshot.

The review reads every package, so it lives in the roof. Each section is gathered by a function
of its own, in a fixed number of statements whatever the number of members, events or feedback
items: the metrics (usage.values), the feedback's patterns (feedback.patterns: by type, top
reasons, repeated questions, open blockers with their words, uncodified items, each split by
cohort kind), the cohorts and members by status (cohorts), the asks sent and calls held
(feedback), the deadline and its extensions (the beta). From them it draws a
recommendation, which is never enforced, and the plain values that the decision's rules take
(`waivables`). `snapshot` freezes the review as JSON for the decision (under SNAPSHOT_MAX).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from betas import lifecycle
from betas.db import utcnow
from betas.decisions import Waivable
from betas.errors import NotFound
from betas.metrics import describe_target
from betas.models import Beta, DeadlineExtension, Decision, MetricUnit
from betas.wording import plural
from cohorts import roster, waves
from feedback import asks, calls, patterns
from feedback.patterns import Patterns
from usage import values
from usage.values import MetricValues, Status

SNAPSHOT_MAX = 256 * 1024  # bytes of JSON
# An open blocker's words, as the snapshot keeps them (the item itself keeps them all).
SNAPSHOT_WORDS_MAX = 1_000


class Verdict:
    """What the evidence recommends: the review's three answers."""

    SHIP = "ship"
    DISCUSS = "discuss"
    NOT_YET = "not_yet"


@dataclass(frozen=True)
class Recommendation:
    """The verdict drawn from the evidence, with the reasons for it; never enforced."""

    verdict: str
    reasons: list[str]


@dataclass(frozen=True)
class CohortRow:
    """A cohort and its members by status."""

    slug: str
    name: str
    kind: str
    by_status: dict[str, int]

    @property
    def total(self) -> int:
        """Every membership of the cohort, whatever its status."""
        return sum(self.by_status.values())


@dataclass(frozen=True)
class DeadlineSection:
    """The decision deadline: days left (negative once overdue), and the extensions used."""

    deadline: date | None
    days_left: int | None
    overdue: bool
    extensions: list[DeadlineExtension]


@dataclass(frozen=True)
class Outreach:
    """How the team reached the beta's members: feedback asks sent, calls held so far."""

    asks_sent: int
    calls_held: int


@dataclass
class Review:
    """Everything the ship / no-ship call is made on."""

    beta: Beta
    today: date
    metrics: list[MetricValues]
    feedback: Patterns
    cohorts: list[CohortRow]
    outreach: Outreach
    deadline: DeadlineSection
    recommendation: Recommendation = field(init=False)

    def __post_init__(self) -> None:
        self.recommendation = recommend(self.metrics, self.feedback)

    @property
    def never_measured(self) -> list[MetricValues]:
        """The metrics no member has met or missed yet: no matching event at all."""
        return [m for m in self.metrics if m.status == Status.NOT_MEASURED]


# Gathering, one section at a time


def load_beta(session: Session, key: str) -> Beta:
    """Return the beta with what the review shows of it loaded, or raise NotFound."""
    beta = session.scalar(
        select(Beta)
        .where(Beta.key == key)
        .options(
            joinedload(Beta.owner),
            selectinload(Beta.metrics),
            selectinload(Beta.extensions).joinedload(DeadlineExtension.user),
            selectinload(Beta.decisions).joinedload(Decision.user),
        )
    )
    if beta is None:
        raise NotFound(f"There is no beta with the key {key!r}.")
    return beta


def cohorts_section(session: Session, beta: Beta) -> list[CohortRow]:
    """Return the beta's cohorts in wave order with their members by status (2 reads)."""
    counts = roster.cohort_counts(session, beta)
    return [
        CohortRow(c.slug, c.name, c.kind.value, dict(sorted(counts.get(c.id, {}).items())))
        for c in waves.list_cohorts(session, beta)
    ]


def deadline_section(beta: Beta, today: date) -> DeadlineSection:
    """Return the deadline, the days left or overdue, and the extensions with their reasons."""
    return DeadlineSection(
        beta.decision_deadline,
        lifecycle.days_left(beta, today),
        lifecycle.is_overdue(beta, today),
        list(beta.extensions),
    )


def outreach_section(session: Session, beta: Beta, now: datetime) -> Outreach:
    """Count the asks for feedback the beta sent and the calls held by `now` (2 reads)."""
    return Outreach(asks.count_asks(session, beta), calls.count_calls(session, beta, held_by=now))


def gather(
    session: Session, beta: Beta, today: date, zone: ZoneInfo, types: Sequence[str]
) -> Review:
    """Gather the review of a beta, each section in a fixed number of statements.

    `types` are the feedback types configured (SHIPCALL_FEEDBACK_TYPES), in the order shown.
    """
    return Review(
        beta=beta,
        today=today,
        metrics=values.metric_values(session, beta, today, zone),
        feedback=patterns.beta_patterns(session, beta, types),
        cohorts=cohorts_section(session, beta),
        outreach=outreach_section(session, beta, utcnow()),
        deadline=deadline_section(beta, today),
    )


# The recommendation


def _shown(metric_values: MetricValues) -> str:
    latest = metric_values.all_members.latest
    value = latest.value if latest else None
    if value is None:
        return "no value"
    return f"{value:g}%" if metric_values.metric.unit == MetricUnit.PERCENT else f"{value:g}"


def recommend(metrics: list[MetricValues], feedback: Patterns) -> Recommendation:
    """Draw the verdict from the evidence, with its reasons.

    *Not yet* while a blocker is open or a metric was never measured; else *discuss* while a
    target is missed or feedback is uncodified; else *ship*: every target met, no open blocker.
    """
    blocking: list[str] = []
    if feedback.blockers:
        blocking.append(
            f"{plural(len(feedback.blockers), 'open blocker')}: resolve or waive each "
            "before a ship."
        )
    blocking += [
        f"{m.metric.name} has never been measured: no member has sent a matching event."
        for m in metrics
        if m.status == Status.NOT_MEASURED
    ]
    if blocking:
        return Recommendation(Verdict.NOT_YET, blocking)
    discuss = [
        f"{m.metric.name} is at {_shown(m)}, short of its target ({describe_target(m.metric)})."
        for m in metrics
        if m.status == Status.NOT_MET
    ]
    uncodified = feedback.uncodified.all
    if uncodified:
        are = "is" if uncodified == 1 else "are"
        discuss.append(
            f"{plural(uncodified, 'feedback item')} {are} still uncodified: what they "
            "say is not counted yet."
        )
    if discuss:
        return Recommendation(Verdict.DISCUSS, discuss)
    return Recommendation(
        Verdict.SHIP,
        [
            f"{m.metric.name} meets its target ({_shown(m)}, {describe_target(m.metric)})."
            for m in metrics
        ]
        + ["No blocker is open, and every feedback item is codified."],
    )


# What the decision's rules take


def waivables(review: Review) -> tuple[list[Waivable], list[Waivable]]:
    """Return the open blockers and the metrics never measured, as the decision takes them."""
    blockers = [
        Waivable("feedback", b.id, f"#{b.id} from {b.account}: {_cut(b.original, 120)}")
        for b in review.feedback.blockers
    ]
    metrics = [Waivable("metric", m.metric.id, m.metric.name) for m in review.never_measured]
    return blockers, metrics


# The snapshot


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _series(series: values.Series, every: int) -> dict:
    days = series.days
    kept = [d for i, d in enumerate(days) if i % every == 0 or i == len(days) - 1]
    return {
        "cohort": series.cohort,
        "name": series.name,
        "kind": series.kind,
        "met": series.met,
        # [day, members, accounts, value]: compact, so that a long beta stays under the limit.
        "days": [[d.day.isoformat(), d.members, d.accounts, d.value] for d in kept],
    }


def _metric(m: MetricValues, every: int) -> dict:
    metric = m.metric
    return {
        "id": metric.id,
        "name": metric.name,
        "stage": metric.stage.value,
        "target": float(metric.target),
        "unit": metric.unit.value,
        "direction": metric.direction.value,
        "status": m.status.value,
        "cohorts": [_series(s, every) for s in m.cohorts],
        "all_members": _series(m.all_members, every),
    }


def _split(split: patterns.Split) -> dict[str, int]:
    return {column: split[column] for column in patterns.COLUMNS if split[column]}


def _reasons(group: patterns.ReasonGroup) -> dict:
    return {
        "reason": group.reason,
        "items": group.items.all,
        "accounts": group.accounts.all,
        "by_cohort_kind": _split(group.items),
    }


def as_json(review: Review, every: int = 1) -> dict:
    """Return the review as plain JSON values: the API's answer, and the snapshot's content.

    `every` keeps one day in that many of each series (and always the latest).
    """
    beta, feedback, deadline = review.beta, review.feedback, review.deadline
    return {
        "beta": {
            "key": beta.key,
            "name": beta.name,
            "state": beta.state.value,
            "problem": beta.problem,
            "learning_goals": beta.learning_goals,
            "customer_outcome": beta.customer_outcome,
            "business_outcomes": list(beta.business_outcomes),
            "owner": beta.owner.email,
        },
        "as_of": review.today.isoformat(),
        "recommendation": {
            "verdict": review.recommendation.verdict,
            "reasons": review.recommendation.reasons,
        },
        "metrics": [_metric(m, every) for m in review.metrics],
        "feedback": {
            "total": feedback.items.all,
            "by_type": [
                {"type": t.type, "count": t.items.all, "by_cohort_kind": _split(t.items)}
                for t in feedback.types
                if t.items.all
            ],
            "uncodified": feedback.uncodified.all,
            "top_reasons": [_reasons(g) for g in feedback.reasons],
            "repeated_questions": [_reasons(g) for g in feedback.questions],
            "open_blockers": [
                {
                    "id": b.id,
                    "account": b.account,
                    "account_name": b.account_name,
                    "cohort_kind": b.column,
                    "original": _cut(b.original, SNAPSHOT_WORDS_MAX),
                    "logged_at": b.logged_at.isoformat(),
                }
                for b in feedback.blockers
            ],
        },
        "cohorts": [
            {"slug": c.slug, "name": c.name, "kind": c.kind, "members": c.by_status}
            for c in review.cohorts
        ],
        "outreach": {
            "asks_sent": review.outreach.asks_sent,
            "calls_held": review.outreach.calls_held,
        },
        "deadline": {
            "deadline": deadline.deadline.isoformat() if deadline.deadline else None,
            "days_left": deadline.days_left,
            "overdue": deadline.overdue,
            "extensions": [
                {
                    "old_deadline": e.old_deadline.isoformat(),
                    "new_deadline": e.new_deadline.isoformat(),
                    "reason": e.reason,
                    "by": e.user.email,
                }
                for e in deadline.extensions
            ],
        },
    }


def size_of(content: dict) -> int:
    """Return the bytes of JSON that `content` takes."""
    return len(json.dumps(content, separators=(",", ":")).encode())


def snapshot(review: Review) -> dict:
    """Freeze the review for the decision: as_json, its series thinned until under SNAPSHOT_MAX.

    A beta of a few months fits whole; a longer one keeps one day in 2, 4, ... of each series.
    """
    every = 1
    content = as_json(review, every)
    longest = max((len(m.all_members.days) for m in review.metrics), default=0)
    while size_of(content) >= SNAPSHOT_MAX and every < longest:
        every *= 2
        content = as_json(review, every)
    content["days_kept_every"] = every
    return content


# Outcome checkpoints


def remeasured(metrics: list[MetricValues], snapshot: dict) -> list[dict]:
    """Return each metric's latest values now beside those the decision's snapshot kept.

    A row per cohort and one for all members: [{"id", "name", "unit", "status", "series":
    [{"name", "now", "at_decision"}]}]; a metric added after the decision has no values then.
    """
    then = {m["id"]: m for m in snapshot.get("metrics", [])}

    def last_value(series: dict | None) -> float | None:
        return series["days"][-1][3] if series and series["days"] else None

    out = []
    for m in metrics:
        kept = then.get(m.metric.id, {})
        kept_series = {
            s["cohort"]: s for s in [*kept.get("cohorts", []), kept.get("all_members")] if s
        }
        out.append(
            {
                "id": m.metric.id,
                "name": m.metric.name,
                "unit": m.metric.unit.value,
                "target": describe_target(m.metric),
                "status": m.status.value,
                "series": [
                    {
                        "name": s.name,
                        "now": s.latest.value if s.latest else None,
                        "at_decision": last_value(kept_series.get(s.cohort)),
                    }
                    for s in [*m.cohorts, m.all_members]
                ],
            }
        )
    return out
