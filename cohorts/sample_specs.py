"""What a random sample asks for, and where the next draw into a cohort starts.

A spec is checked and its attribute names resolved to the names stored before any SQL is built;
the sample page's form starts from the cohort's seed, its latest draw's pool and its plan.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from betas.errors import Invalid
from betas.models import Beta
from cohorts.attributes import (
    fold_name,
    is_attribute_name,
    known_attributes,
    spellings_of,
    unknown_attribute,
)
from cohorts.models import Cohort, CohortKind, Membership
from cohorts.waves import list_cohorts

MAX_SIZE = 10_000
MAX_FILTERS = 20
MAX_FILTER_VALUES = 100
VALUE_MAX = 200
SEED_PATTERN = r"[A-Za-z0-9._-]{1,64}"
# How many of the newest accounts the page looks at to suggest attribute names: a few milliseconds
# however many accounts there are. A draw looks at every account's names, to resolve them exactly.
SUGGESTED_FROM = 1_000

_SEED = re.compile(SEED_PATTERN)
# What a cohort of each kind is, in a sentence.
_KIND_WORDS = {
    CohortKind.EARLY_ADOPTERS: "an early-adopter cohort",
    CohortKind.RANDOM_SAMPLE: "a random-sample cohort",
    CohortKind.MANUAL: "a manual cohort",
}


@dataclass(frozen=True)
class SampleSpec:
    """What to draw: how many accounts, with which seed, from which pool, stratified or not."""

    size: int
    seed: str | None = None
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    stratify_by: str | None = None
    exclude_other_betas: bool = False


def new_seed() -> str:
    """Return a fresh random seed."""
    return secrets.token_hex(8)


def check_spec(spec: SampleSpec) -> SampleSpec:
    """Return the spec with its filters tidied; refuse sizes, names and values out of bounds."""
    problems = []
    if not 1 <= spec.size <= MAX_SIZE:
        problems.append({"field": "size", "message": f"From 1 to {MAX_SIZE:,}."})
    if spec.seed is not None and not _SEED.fullmatch(spec.seed):
        problems.append(
            {"field": "seed", "message": "1 to 64 letters, digits, dots, hyphens or underscores."}
        )
    filters: dict[str, list[str]] = {}
    for name, values in spec.filters.items():
        name = name.strip()
        tidy = list(dict.fromkeys(v.strip() for v in values if v.strip()))
        if not is_attribute_name(name):
            problems.append(
                {
                    "field": "filters",
                    "message": f"{name!r} is not an attribute name: 1 to 100 characters, "
                    "without quotes or backslashes.",
                }
            )
        elif not tidy or len(tidy) > MAX_FILTER_VALUES or any(len(v) > VALUE_MAX for v in tidy):
            problems.append(
                {
                    "field": "filters",
                    "message": f"Give {name} 1 to {MAX_FILTER_VALUES} values of at most "
                    f"{VALUE_MAX} characters.",
                }
            )
        filters[name] = tidy
    if len(filters) > MAX_FILTERS:
        problems.append({"field": "filters", "message": f"At most {MAX_FILTERS} attributes."})
    stratify_by = (spec.stratify_by or "").strip() or None
    if stratify_by is not None and not is_attribute_name(stratify_by):
        problems.append(
            {
                "field": "stratify_by",
                "message": "An attribute name: 1 to 100 characters, without quotes or backslashes.",
            }
        )
    if problems:
        raise Invalid(
            "Some sample settings are out of bounds: " + " ".join(p["message"] for p in problems),
            problems,
        )
    return SampleSpec(spec.size, spec.seed, filters, stratify_by, spec.exclude_other_betas)


def resolve_names(
    session: Session, spec: SampleSpec, mix_by: str | None
) -> tuple[SampleSpec, str | None, dict[str, tuple[str, ...]]]:
    """Return the spec and the mix attribute named as stored, and each name's stored spellings.

    A name means every stored name that folds to the same (fold_name()): "plan" finds "Plan",
    and finds "plan" too where some accounts have one and some the other. Its name as stored is
    the most common of those. Refused, on the field, when no account has an attribute of that
    name, or when two filters name one attribute.
    """
    if not (spec.filters or spec.stratify_by or mix_by):
        return spec, mix_by, {}
    known = known_attributes(session)
    spellings = spellings_of(known)
    problems: list[dict[str, str]] = []

    def resolve(name: str, field: str) -> str | None:
        found = spellings.get(fold_name(name))
        if not found:
            problems.append({"field": field, "message": unknown_attribute(name, known)})
            return None
        return found[0]

    filters: dict[str, Sequence[str]] = {}
    typed_as: dict[str, str] = {}
    for name, values in spec.filters.items():
        stored = resolve(name, "filters")
        if stored in filters:
            problems.append(
                {
                    "field": "filters",
                    "message": f"{typed_as[stored]} and {name} are one attribute, {stored}: "
                    "give all its values in one filter.",
                }
            )
        elif stored is not None:
            filters[stored], typed_as[stored] = values, name
    stratify_by = resolve(spec.stratify_by, "stratify_by") if spec.stratify_by else None
    if mix_by and spec.stratify_by and fold_name(mix_by) == fold_name(spec.stratify_by):
        mix = stratify_by  # refused once, on stratify_by, if at all
    else:
        mix = resolve(mix_by, "mix_by") if mix_by else None
    if problems:
        raise Invalid(" ".join(p["message"] for p in problems), problems)
    names = (*filters, stratify_by, mix)
    found = {name: tuple(spellings[fold_name(name)]) for name in names if name is not None}
    return replace(spec, filters=filters, stratify_by=stratify_by), mix, found


def last_draw(cohort: Cohort) -> dict | None:
    """Return the parameters of the cohort's latest draw, if it had one."""
    draws = cohort.criteria.get("draws") or []
    return draws[-1] if draws else None


def not_a_sample_cohort(cohort: Cohort) -> str:
    """Say that a cohort of another kind takes no random samples."""
    return (
        f"{cohort.name} is {_KIND_WORDS[cohort.kind]}: random samples are drawn into "
        "random-sample cohorts."
    )


@dataclass(frozen=True)
class NextDraw:
    """What the next draw into a cohort starts from, and what its page offers."""

    seed: str | None
    latest: dict
    members: int
    planned_size: int | None
    attributes: list[str]
    not_here: str | None = None
    sample_cohorts: list[Cohort] = field(default_factory=list)

    @property
    def to_plan(self) -> int | None:
        """Return how many more accounts the cohort's planned size asks for, if it has one."""
        if self.planned_size is None:
            return None
        return max(self.planned_size - self.members, 0)


def next_draw(session: Session, beta: Beta, cohort: Cohort) -> NextDraw:
    """Return what the next draw into the cohort starts from: its seed, latest draw and plan.

    The attributes offered are those of the newest accounts (SUGGESTED_FROM of them), which costs
    about a millisecond whatever the number of accounts; a draw resolves names against them all.
    A cohort that is not a random sample gets why not, and the beta's random-sample cohorts.
    """
    members = session.scalar(
        select(func.count()).select_from(Membership).where(Membership.cohort_id == cohort.id)
    )
    start = NextDraw(
        seed=cohort.criteria.get("seed"),
        latest=last_draw(cohort) or {},
        members=members or 0,
        planned_size=cohort.planned_size,
        attributes=[],
    )
    if cohort.kind != CohortKind.RANDOM_SAMPLE:
        sample_cohorts = [
            c for c in list_cohorts(session, beta) if c.kind == CohortKind.RANDOM_SAMPLE
        ]
        return replace(start, not_here=not_a_sample_cohort(cohort), sample_cohorts=sample_cohorts)
    return replace(start, attributes=known_attributes(session, newest=SUGGESTED_FROM))
