"""The ship / no-ship review: every package's evidence on one beta, a recommendation, a snapshot.

The review reads every package, so it lives in the roof. Each section is gathered by a function
of its own, in a fixed number of statements whatever the number of members, events or feedback
items: the metrics (usage.values), the feedback (feedback's items), the cohorts and members by
status (cohorts), the deadline and its extensions (the beta). From them it draws a
recommendation, which is never enforced, and the plain values that the decision's rules take
(`waivables`). `snapshot` freezes the review as JSON for the decision (under SNAPSHOT_MAX).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from betas import lifecycle
from betas.decisions import Waivable
from betas.errors import NotFound
from betas.metrics import describe_target
from betas.models import Beta, DeadlineExtension, Decision, MetricUnit
from betas.wording import plural
from cohorts import roster, waves
from cohorts.models import Account
from feedback.log import BLOCKER, codified_condition
from feedback.models import BlockerState, FeedbackItem
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
class Blocker:
    """An open blocker: which account said it, and its words."""

    id: int
    account: str  # external id
    account_name: str
    original: str
    logged_at: datetime


@dataclass(frozen=True)
class FeedbackSection:
    """The feedback in numbers: by type, uncodified, and the open blockers with their words."""

    total: int
    by_type: list[tuple[str, int]]  # most frequent first; uncoded items are not counted here
    uncodified: int
    open_blockers: list[Blocker]


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


@dataclass
class Review:
    """Everything the ship / no-ship call is made on."""

    beta: Beta
    today: date
    metrics: list[MetricValues]
    feedback: FeedbackSection
    cohorts: list[CohortRow]
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


def feedback_section(session: Session, beta: Beta) -> FeedbackSection:
    """Count the beta's feedback by type and uncodified, and list its open blockers (2 reads)."""
    codified = case((codified_condition(), 1), else_=0)
    by_type: dict[str, int] = {}
    total = uncodified = 0
    rows = session.execute(
        select(FeedbackItem.type, codified, func.count())
        .where(FeedbackItem.beta_id == beta.id)
        .group_by(FeedbackItem.type, codified)
    )
    for type_, is_codified, n in rows:
        total += n
        if not is_codified:
            uncodified += n
        if type_:
            by_type[type_] = by_type.get(type_, 0) + n
    blockers = [
        Blocker(item_id, external_id, name, original, logged_at)
        for item_id, external_id, name, original, logged_at in session.execute(
            select(
                FeedbackItem.id,
                Account.external_id,
                Account.name,
                FeedbackItem.original,
                FeedbackItem.logged_at,
            )
            .join(Account, Account.id == FeedbackItem.account_id)
            .where(
                FeedbackItem.beta_id == beta.id,
                FeedbackItem.type == BLOCKER,
                FeedbackItem.blocker_state == BlockerState.OPEN,
            )
            .order_by(FeedbackItem.id)
        )
    ]
    ranked = sorted(by_type.items(), key=lambda pair: (-pair[1], pair[0]))
    return FeedbackSection(total, ranked, uncodified, blockers)


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


def gather(session: Session, beta: Beta, today: date, zone: ZoneInfo) -> Review:
    """Gather the review of a beta, each section in a fixed number of statements."""
    return Review(
        beta=beta,
        today=today,
        metrics=values.metric_values(session, beta, today, zone),
        feedback=feedback_section(session, beta),
        cohorts=cohorts_section(session, beta),
        deadline=deadline_section(beta, today),
    )


# The recommendation


def _shown(metric_values: MetricValues) -> str:
    latest = metric_values.all_members.latest
    value = latest.value if latest else None
    if value is None:
        return "no value"
    return f"{value:g}%" if metric_values.metric.unit == MetricUnit.PERCENT else f"{value:g}"


def recommend(metrics: list[MetricValues], feedback: FeedbackSection) -> Recommendation:
    """Draw the verdict from the evidence, with its reasons.

    *Not yet* while a blocker is open or a metric was never measured; else *discuss* while a
    target is missed or feedback is uncodified; else *ship*: every target met, no open blocker.
    """
    blocking: list[str] = []
    if feedback.open_blockers:
        blocking.append(
            f"{plural(len(feedback.open_blockers), 'open blocker')}: resolve or waive each "
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
    if feedback.uncodified:
        are = "is" if feedback.uncodified == 1 else "are"
        discuss.append(
            f"{plural(feedback.uncodified, 'feedback item')} {are} still uncodified: what they "
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
        for b in review.feedback.open_blockers
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
            "total": feedback.total,
            "by_type": [{"type": t, "count": n} for t, n in feedback.by_type],
            "uncodified": feedback.uncodified,
            "open_blockers": [
                {
                    "id": b.id,
                    "account": b.account,
                    "account_name": b.account_name,
                    "original": _cut(b.original, SNAPSHOT_WORDS_MAX),
                    "logged_at": b.logged_at.isoformat(),
                }
                for b in feedback.open_blockers
            ],
        },
        "cohorts": [
            {"slug": c.slug, "name": c.name, "kind": c.kind, "members": c.by_status}
            for c in review.cohorts
        ],
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
