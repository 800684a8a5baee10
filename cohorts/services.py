"""Who is in a beta: counts and, as cohorts grow, enrollment."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cohorts.models import Membership, MembershipStatus


def member_counts(session: Session, beta_ids: Iterable[int]) -> dict[int, int]:
    """Return the number of active members of each beta, in one query."""
    ids = list(beta_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Membership.beta_id, func.count())
        .where(Membership.beta_id.in_(ids), Membership.status == MembershipStatus.ACTIVE)
        .group_by(Membership.beta_id)
    )
    return dict(rows.all())
