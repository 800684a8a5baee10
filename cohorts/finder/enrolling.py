"""Enrolling the accounts a search finds in an early-adopter cohort, each citing its evidence."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from betas.audit import Actor
from betas.auth.permissions import require_edit
from betas.errors import Invalid
from betas.lifecycle import check_open
from betas.models import Beta
from cohorts.finder.query import folded
from cohorts.finder.ranking import MAX_LIMIT, Criteria, search
from cohorts.memberships import Enrollment, enroll
from cohorts.models import Cohort, CohortKind
from cohorts.waves import create_cohort, get_cohort, list_cohorts


def _free_slug(session: Session, beta: Beta, name: str) -> str:
    base = "-".join(re.findall(r"[a-z0-9]+", folded(name)))[:56].strip("-") or "early-adopters"
    taken = {c.slug for c in list_cohorts(session, beta)}
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


def enroll_adopters(
    session: Session,
    actor: Actor,
    beta: Beta,
    criteria: Criteria,
    *,
    today: date,
    cohort_slug: str | None = None,
    new_cohort: str | None = None,
    accounts: Sequence[str] | None = None,
    top: int | None = None,
    zone: ZoneInfo = UTC,
    now: datetime | None = None,
) -> tuple[Cohort, Enrollment]:
    """Enroll the chosen accounts (or the `top` ones) of a search in an early-adopter cohort.

    The cohort is an existing early-adopter cohort (`cohort_slug`) or a new one named `new_cohort`,
    recording the search as its criteria. Each membership's reason cites the evidence: how many
    conversations, the last date, a short quote. Chosen accounts that no longer match are skipped,
    as are those that opted out or are in the beta already. Refused when the user may not change
    the beta, the beta does not take accounts now, or nothing matches.
    """
    require_edit(actor.user, beta)
    check_open(beta, today)
    if (cohort_slug is None) == (new_cohort is None):
        raise Invalid(
            "Choose an early-adopter cohort, or name a new one.",
            [{"field": "cohort", "message": "Choose a cohort or name a new one."}],
        )
    cohort = None
    if cohort_slug is not None:
        cohort = get_cohort(session, beta, cohort_slug)
        if cohort.kind != CohortKind.EARLY_ADOPTERS:
            raise Invalid(
                f"{cohort.name} is a {cohort.kind.value.replace('_', ' ')} cohort: early adopters "
                "go in an early-adopter cohort.",
                [{"field": "cohort", "message": "Choose an early-adopter cohort."}],
            )
    if accounts is not None:
        chosen = list(dict.fromkeys(accounts))[:MAX_LIMIT]
        if not chosen:
            raise Invalid(
                "Tick the accounts to enroll first.",
                [{"field": "accounts", "message": "Tick at least one account."}],
            )
        result = search(
            session, beta, criteria, limit=MAX_LIMIT, zone=zone, now=now, accounts=chosen
        )
    else:
        if not top or not 1 <= top <= MAX_LIMIT:
            raise Invalid(
                f"Say how many of the top accounts to enroll, from 1 to {MAX_LIMIT}.",
                [{"field": "top", "message": f"From 1 to {MAX_LIMIT}."}],
            )
        result = search(session, beta, criteria, limit=top, zone=zone, now=now)
        chosen = [m.account for m in result.matches]
    if not result.matches:
        raise Invalid("No account matches this search any more: search again.")
    if cohort is None:
        cohort = create_cohort(
            session,
            actor,
            beta,
            slug=_free_slug(session, beta, new_cohort or ""),
            name=new_cohort or "",
            kind=CohortKind.EARLY_ADOPTERS.value,
            today=today,
            criteria=criteria.as_dict(),
        )
    reasons = {m.account: m.reason(zone) for m in result.matches}
    enrollment = enroll(session, actor, beta, cohort, list(reasons), reasons, today)
    enrollment.skipped.extend(
        {"account": external_id, "reason": "no longer matches this search"}
        for external_id in chosen
        if external_id not in reasons
    )
    return cohort, enrollment
