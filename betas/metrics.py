"""A beta's success metrics: adding, changing and removing them, and saying their targets.

A metric's rule over usage events is checked by betas/metric_rules.py; every door comes here.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from betas.audit import Actor, record
from betas.auth.permissions import require_edit
from betas.errors import (
    Conflict,
    Invalid,
    NotFound,
)
from betas.metric_rules import check_rule, describe_rule
from betas.models import (
    TARGET_MAX,
    Beta,
    BetaState,
    Direction,
    MetricStage,
    MetricUnit,
    SuccessMetric,
)


def add_metric(
    session: Session,
    actor: Actor,
    beta: Beta,
    *,
    name: str,
    stage: str,
    target: Decimal | float,
    unit: str,
    direction: str = Direction.AT_LEAST,
    counts: str = "",
    rule: object = None,
) -> SuccessMetric:
    """Add a success metric; refuses a decided beta, a target out of range and a bad rule."""
    require_edit(actor.user, beta)
    if beta.state == BetaState.DECIDED:
        raise Conflict("This beta has been decided; its metrics are part of the record now.")
    metric = SuccessMetric()
    _set_metric(
        metric,
        name=name,
        stage=stage,
        counts=counts,
        target=target,
        unit=unit,
        direction=direction,
        rule=rule,
    )
    beta.metrics.append(metric)
    session.flush()
    record(
        session,
        actor,
        "metric.added",
        metric,
        beta=beta,
        name=metric.name,
        target=f"{describe_target(metric)}",
        rule=describe_rule(metric.rule),
    )
    return metric


METRIC_FIELDS = ("name", "stage", "counts", "target", "unit", "direction", "rule")


def _set_metric(metric: SuccessMetric, **values) -> None:
    """Check every value given, then set them all on the metric (nothing is set on a refusal)."""
    name = values.get("name", metric.name)
    if name is None or not name.strip():
        raise Invalid("Give the metric a name.", [{"field": "name", "message": "Required."}])
    target = Decimal(str(values.get("target", metric.target)))
    unit = MetricUnit(values.get("unit", metric.unit))
    allowed = target_out_of_range(target, unit)
    if allowed:
        raise Invalid(
            f"A target is a number {allowed}.",
            [{"field": "target", "message": f"{allowed.capitalize()}."}],
        )
    stage = MetricStage(values.get("stage", metric.stage))
    direction = Direction(values.get("direction", metric.direction or Direction.AT_LEAST))
    rule = check_rule(values["rule"]) if "rule" in values else metric.rule
    metric.name = name.strip()
    metric.stage = stage
    metric.counts = (values.get("counts", metric.counts) or "").strip()
    # Round as the column stores it, so what the caller is told is what is kept.
    metric.target = target.quantize(Decimal("0.01"))
    metric.unit = unit
    metric.direction = direction
    metric.rule = rule


def _metric_said(metric: SuccessMetric) -> dict[str, str]:
    """Say each field of a metric as the audit shows its changes."""
    return {
        "name": metric.name,
        "stage": MetricStage(metric.stage).value,
        "counts": metric.counts or "",
        "target": describe_target(metric),
        "rule": describe_rule(metric.rule),
    }


def get_metric(beta: Beta, metric_id: int) -> SuccessMetric:
    """Return the beta's metric with this id, or raise NotFound."""
    metric = next((m for m in beta.metrics if m.id == metric_id), None)
    if metric is None:
        raise NotFound(f"Beta {beta.key} has no metric {metric_id}.")
    return metric


def update_metric(
    session: Session, actor: Actor, beta: Beta, metric_id: int, **values
) -> SuccessMetric:
    """Change a metric's fields (any of METRIC_FIELDS); refuses a decided beta and bad values.

    A running beta's metric may change, its rule too (never cleared: launch required it): its
    values are computed again from the events over every day, and the audit keeps what it was.
    """
    require_edit(actor.user, beta)
    metric = get_metric(beta, metric_id)
    if beta.state == BetaState.DECIDED:
        raise Conflict("This beta has been decided; its metrics are part of the record now.")
    unknown = set(values) - set(METRIC_FIELDS)
    if unknown:
        raise TypeError(f"Not a field of a metric: {', '.join(sorted(unknown))}")
    if beta.state != BetaState.DRAFT and "rule" in values and values["rule"] is None:
        # Launch required it, as the problem and the learning goals: change it, never clear it.
        raise Invalid(
            f"{beta.name} launched with a rule on {metric.name!r}: change the rule, but keep one.",
            [{"field": "rule", "message": "Required since launch."}],
        )
    before = _metric_said(metric)
    _set_metric(metric, **values)
    after = _metric_said(metric)
    changes = {
        field: [before[field], after[field]] for field in before if before[field] != after[field]
    }
    if changes:
        session.flush()
        record(
            session, actor, "metric.updated", metric, beta=beta, name=metric.name, changes=changes
        )
    return metric


def target_out_of_range(target: Decimal, unit: MetricUnit | str) -> str:
    """Say the range of the unit ('from 0 to 100 for a percentage') if the target is outside it.

    Return '' for a target in range.
    """
    unit = MetricUnit(unit)
    ceiling, what = (100, "a percentage") if unit == MetricUnit.PERCENT else (TARGET_MAX, "a count")
    if target.is_finite() and 0 <= target <= ceiling:
        return ""
    return f"from 0 to {ceiling:,} for {what}"


def remove_metric(session: Session, actor: Actor, beta: Beta, metric_id: int) -> None:
    """Remove a metric from a draft; a launched beta keeps the metrics it launched with."""
    require_edit(actor.user, beta)
    metric = get_metric(beta, metric_id)
    if beta.state != BetaState.DRAFT:
        raise Conflict("A launched beta keeps its metrics, so results stay comparable.")
    beta.metrics.remove(metric)
    record(session, actor, "metric.removed", metric, beta=beta, name=metric.name)
    session.flush()


def describe_target(metric: SuccessMetric) -> str:
    """Say a metric's target in words, e.g. 'at least 40% of enrolled accounts'."""
    number = f"{Decimal(metric.target).normalize():f}"
    what = f"{number}% of enrolled accounts" if metric.unit == MetricUnit.PERCENT else number
    return f"{'at least' if metric.direction == Direction.AT_LEAST else 'at most'} {what}"
