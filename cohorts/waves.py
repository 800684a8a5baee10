"""Cohorts: the waves of a beta, in order, each with the criteria that made it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from betas.audit import Actor, record
from betas.auth.permissions import require_edit
from betas.errors import Conflict, Invalid, NotFound
from betas.lifecycle import check_open
from betas.models import NAME_MAX, Beta, is_slug
from cohorts.models import Cohort, CohortKind


def list_cohorts(session: Session, beta: Beta) -> list[Cohort]:
    """Return a beta's cohorts in wave order."""
    return list(
        session.scalars(
            select(Cohort).where(Cohort.beta_id == beta.id).order_by(Cohort.position, Cohort.id)
        )
    )


def get_cohort(session: Session, beta: Beta, slug: str) -> Cohort:
    """Return the beta's cohort with this slug, or raise NotFound."""
    cohort = session.scalar(select(Cohort).where(Cohort.beta_id == beta.id, Cohort.slug == slug))
    if cohort is None:
        raise NotFound(f"Beta {beta.key} has no cohort {slug!r}.")
    return cohort


def create_cohort(
    session: Session,
    actor: Actor,
    beta: Beta,
    *,
    slug: str,
    name: str,
    kind: str,
    today: date,
    planned_size: int | None = None,
    criteria: Mapping | None = None,
) -> Cohort:
    """Add a wave to a beta; refused when the beta is not running or overdue, or the slug taken."""
    require_edit(actor.user, beta)
    check_open(beta, today)
    if not is_slug(slug):
        raise Invalid(
            "A cohort's slug is lower-case letters, digits and hyphens, like 'wave-1'.",
            [{"field": "slug", "message": "Use lower-case letters, digits and hyphens."}],
        )
    if not (name or "").strip() or len(name) > NAME_MAX:
        raise Invalid("Give the cohort a name.", [{"field": "name", "message": "Required."}])
    if planned_size is not None and planned_size < 1:
        raise Invalid(
            "A planned size is a whole number from 1.",
            [{"field": "planned_size", "message": "At least 1."}],
        )
    if session.scalar(select(Cohort.id).where(Cohort.beta_id == beta.id, Cohort.slug == slug)):
        raise Conflict(
            f"Beta {beta.key} has a cohort {slug!r} already.",
            [{"field": "slug", "message": "This slug is taken in this beta."}],
        )
    position = session.scalar(select(func.max(Cohort.position)).where(Cohort.beta_id == beta.id))
    cohort = Cohort(
        beta=beta,
        slug=slug,
        name=name.strip(),
        kind=CohortKind(kind),
        position=(position or 0) + 1,
        planned_size=planned_size,
        criteria=dict(criteria or {}),
    )
    session.add(cohort)
    session.flush()
    record(session, actor, "cohort.created", cohort, beta=beta, kind=cohort.kind.value)
    return cohort
