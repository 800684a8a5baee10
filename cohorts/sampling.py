"""Reproducible random samples of accounts that never asked: feedback beyond the early adopters.

The draw order of a beta's accounts is fixed by a seed: every account is ranked by the SHA-1 of
the beta's key, the seed and its external id, and a sample of N is the N lowest ranks in the pool.
No database random() is involved, so the same seed, pool and size give the same accounts on SQLite
and PostgreSQL and in any Python version, and growing a wave with the cohort's seed continues the
same order (accounts drawn before are members now, so the pool leaves them out).

The database does the work, so pools of a million accounts are fine: it counts the pool per
stratum, then ranks every account with shipcall_sha1() (pgcrypto on PostgreSQL, Python's hashlib
on SQLite) and returns only those below a bar a little above each stratum's share, which Python
sorts. Attributes are compared as text, the same on both databases: strings as they are, numbers
and booleans as written in the JSON (12, 12.5, true), anything else missing.

Attribute names are matched without regard to case and spacing ("Plan", "plan", "seat_count",
"Seat count"): before any SQL is built, each name asked for is resolved to the names stored on the
accounts, from one pass over every account's attribute names; two stored names that fold to the
same are one attribute, and a name no account has is refused, listing the known ones.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import (
    LargeBinary,
    Select,
    String,
    Subquery,
    exists,
    func,
    literal,
    null,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from betas.audit import Actor, record
from betas.auth.permissions import require_edit
from betas.db import utcnow
from betas.errors import DomainError, Invalid, NotFound
from betas.lifecycle import check_open
from betas.models import Beta, BetaState
from betas.wording import plural
from cohorts.attributes import (
    any_spelling,
    attribute_json,
    attribute_text,
    is_attribute_name,
    text_of,
)
from cohorts.finder import list_problem_searches, matching_account_ids
from cohorts.memberships import Enrollment, enroll
from cohorts.models import Account, Cohort, CohortKind, Membership, MembershipStatus
from cohorts.sample_specs import (
    SampleSpec,
    check_spec,
    new_seed,
    not_a_sample_cohort,
    resolve_names,
)

ALGORITHM = "sha1-lowest-v1"
MAX_STRATA = 100
# How far above each stratum's expected share of the rank space the first bar is set: this many
# standard deviations, and this many accounts more.
SPREAD = 4.0
SLACK = 8


class NotRandomSample(DomainError):
    """Random samples go in a random-sample cohort only."""

    code = "not_a_random_sample"


class PoolTooSmall(DomainError):
    """The pool holds fewer accounts than the sample asks for."""

    code = "pool_too_small"


class SeedFixed(DomainError):
    """A cohort keeps the seed of its first draw, so that later draws continue its order."""

    code = "seed_fixed"


@dataclass(frozen=True)
class MixRow:
    """One value of an attribute and how many accounts have it in each group."""

    value: str | None
    sample: int
    pool: int
    early_adopters: int


@dataclass(frozen=True)
class Mix:
    """How one attribute's values are spread in the sample, the pool and the early adopters."""

    attribute: str
    sample: Counter[str | None]
    pool: Counter[str | None]
    early_adopters: Counter[str | None]

    def rows(self) -> list[MixRow]:
        """Return one row per value, the pool's most common first."""
        values = set(self.sample) | set(self.pool) | set(self.early_adopters)
        ordered = sorted(values, key=lambda v: (-self.pool[v], -self.early_adopters[v], _order(v)))
        return [MixRow(v, self.sample[v], self.pool[v], self.early_adopters[v]) for v in ordered]

    def totals(self) -> MixRow:
        """Return the number of accounts in each group."""
        return MixRow(
            None,
            self.sample.total(),
            self.pool.total(),
            self.early_adopters.total(),
        )


@dataclass
class Sample:
    """A draw: its seed, the pool's size, the accounts in draw order, and what was done."""

    seed: str
    pool_size: int
    accounts: list[str]
    mix: Mix | None = None
    enrollment: Enrollment | None = None

    @property
    def enrolled(self) -> bool:
        """Tell whether the accounts were enrolled (False for a preview)."""
        return self.enrollment is not None

    @property
    def reason(self) -> str:
        """Return the reason each drawn account is in the beta."""
        return f"random sample (seed {self.seed}, pool of {self.pool_size})"


def allocate(counts: Mapping[str | None, int], size: int) -> dict[str | None, int]:
    """Share `size` among strata in proportion to their counts, by largest remainder.

    Each stratum gets its exact share rounded down, or up by one: the accounts still to place go
    to the largest remainders (ties to the larger stratum, then by value), so nothing depends on
    the order in which the database returned the strata.
    """
    total = sum(counts.values())
    shares = {s: divmod(size * n, total) for s, n in counts.items()}
    allocation = {s: whole for s, (whole, _) in shares.items()}
    left = size - sum(allocation.values())
    by_remainder = sorted(counts, key=lambda s: (-shares[s][1], -counts[s], _order(s)))
    for stratum in by_remainder[:left]:
        allocation[stratum] += 1
    return allocation


def _order(value: str | None) -> tuple[bool, str]:
    # Missing values sort first; None and text never meet in a comparison.
    return (value is not None, value or "")


def _none_of(ids: Select, dialect: str) -> ColumnElement[bool]:
    """Return the condition: the account's id is not one of `ids`."""
    if dialect == "sqlite":
        # SQLite runs an uncorrelated NOT IN once and looks each account up in the list.
        return Account.id.not_in(ids)
    # PostgreSQL hashes a NOT IN list only while it fits in work_mem, and otherwise rescans it
    # for every account; NOT EXISTS becomes an anti-join whatever the size.
    found = ids.subquery()
    return ~exists().where(found.c[0] == Account.id)


def _pool_conditions(
    session: Session,
    beta: Beta,
    spec: SampleSpec,
    dialect: str,
    spellings: Mapping[str, Sequence[str]],
) -> list[ColumnElement[bool]]:
    """Return the conditions an account meets to be in the pool of a beta's sample."""
    conditions = [
        any_spelling(dialect, spellings[name], attribute_text).in_(values)
        for name, values in spec.filters.items()
    ]
    # Any membership counts, opted out included: a sample never brings anyone back.
    members = select(Membership.account_id).where(Membership.beta_id == beta.id)
    conditions.append(_none_of(members, dialect))
    # They asked, or hit the problem, already: the sample is for accounts that did not.
    conditions.append(_none_of(matching_account_ids(session, beta), dialect))
    if spec.exclude_other_betas:
        elsewhere = (
            select(Membership.account_id)
            .join(Beta, Beta.id == Membership.beta_id)
            .where(
                Membership.beta_id != beta.id,
                Beta.state == BetaState.RUNNING,
                Membership.status.in_([MembershipStatus.ACTIVE, MembershipStatus.INVITED]),
            )
        )
        conditions.append(_none_of(elsewhere, dialect))
    return conditions


@dataclass(frozen=True)
class _Counts:
    """The pool as counted: its accounts per stratum and per value of the mix attribute."""

    strata: dict[str | None, int]
    mix: dict[str | None, int]

    @property
    def pool_size(self) -> int:
        """Return how many accounts the pool holds."""
        return sum(self.strata.values())


def _count(session: Session, pool: Subquery) -> _Counts:
    """Count the pool's accounts per stratum and per mix value, keyed by their text.

    Grouped by the values as stored, then merged by text: two spellings of one string (an
    escaped and a plain "é") are one value.
    """
    strata: defaultdict[str | None, int] = defaultdict(int)
    mix: defaultdict[str | None, int] = defaultdict(int)
    grouped = select(pool.c.stratum, pool.c.value, func.count()).group_by(
        pool.c.stratum, pool.c.value
    )
    for stratum, value, n in session.execute(grouped):
        strata[text_of(stratum)] += n
        mix[text_of(value)] += n
    return _Counts(dict(strata), dict(mix))


def _first_fraction(
    strata: Mapping[str | None, int], allocation: Mapping[str | None, int]
) -> float:
    """Return the share of the rank space likely to hold every stratum's allocation.

    Ranks are uniform: a stratum of n accounts has about f * n of them below the fraction f of
    the space. Aiming SPREAD standard deviations and SLACK accounts above each allocation, a
    stratum comes up short less than once in 30,000 draws, and _lowest() then looks again.
    """
    return max(
        (share + SPREAD * math.sqrt(share) + SLACK) / strata[stratum]
        for stratum, share in allocation.items()
        if share
    )


def _lowest(
    session: Session,
    pool: Subquery,
    prefix: str,
    allocation: Mapping[str | None, int],
    fraction: float,
) -> list[tuple[bytes, str, str | None]]:
    """Return the lowest-ranked accounts of each stratum, as many as its allocation, by rank.

    Each account's rank is shipcall_sha1(prefix || external_id), computed by the database, which
    returns only the accounts ranked below a bar: the lowest `fraction` of the rank space. If a
    stratum has fewer accounts below the bar than it needs, the bar rises and the database looks
    again; the accounts below any bar are the lowest of their strata, so the bar never changes
    which accounts are drawn, only how many rows are read.
    """
    rank = func.shipcall_sha1(literal(prefix, String) + pool.c.external_id, type_=LargeBinary)
    if session.get_bind().dialect.name == "postgresql":
        # Without statistics on ranks, the planner guesses that a third of the pool is below the
        # bar, too many rows to be worth hashing in parallel workers and sending back; a few
        # thousand are. Sending a row is priced near nothing till the transaction ends.
        session.execute(select(func.set_config("parallel_tuple_cost", "0.001", True)))
    ranked = select(rank, pool.c.external_id, pool.c.stratum, pool.c.value)
    wanted = {stratum: share for stratum, share in allocation.items() if share}
    while True:
        bar = int(fraction * 2**160)
        below = ranked if bar >= 2**160 else ranked.where(rank < bar.to_bytes(20, "big"))
        found: defaultdict[str | None, list[tuple[bytes, str, str | None]]] = defaultdict(list)
        for digest, external_id, stratum, value in session.execute(below):
            found[text_of(stratum)].append((digest, external_id, text_of(value)))
        if bar >= 2**160 or all(len(found[s]) >= share for s, share in wanted.items()):
            return sorted(c for s, share in wanted.items() for c in sorted(found[s])[:share])
        fraction *= 4


def _early_adopter_mix(session: Session, beta: Beta, value: ColumnElement) -> Counter[str | None]:
    """Count the values among members of the beta's early-adopter cohorts."""
    # Grouping by a subquery's column: PostgreSQL would not see two renderings of the expression,
    # with their own bound parameters, as the same.
    values = (
        select(value.label("value"))
        .select_from(Membership)
        .join(Account, Account.id == Membership.account_id)
        .join(Cohort, Cohort.id == Membership.cohort_id)
        .where(Membership.beta_id == beta.id, Cohort.kind == CohortKind.EARLY_ADOPTERS)
        .subquery()
    )
    counts: Counter[str | None] = Counter()
    for stored, n in session.execute(select(values.c.value, func.count()).group_by(values.c.value)):
        counts[text_of(stored)] += n
    return counts


def _seed(cohort: Cohort, given: str | None) -> str:
    """Return the cohort's seed, the one given for its first draw, or a new one."""
    stored = cohort.criteria.get("seed")
    if stored is None:
        return given or new_seed()
    if cohort.criteria.get("algorithm", ALGORITHM) != ALGORITHM:
        raise SeedFixed(
            f"{cohort.name} was drawn with {cohort.criteria['algorithm']}, which this version "
            f"of Shipcall does not run ({ALGORITHM}): draw into a new random-sample cohort."
        )
    if given not in (None, stored):
        raise SeedFixed(
            f"{cohort.name} was drawn with seed {stored}: later draws use it too, so they continue "
            "the same order. Leave the seed out, or draw into a new random-sample cohort.",
            [{"field": "seed", "message": f"This cohort's seed is {stored}."}],
        )
    return stored


def draw_sample(
    session: Session,
    actor: Actor,
    beta: Beta,
    cohort: Cohort,
    spec: SampleSpec,
    today: date,
    *,
    dry_run: bool = False,
    mix_by: str | None = None,
) -> Sample:
    """Draw a reproducible random sample of accounts that never asked into a cohort of the beta.

    The pool is the accounts that pass the filters, less every member of the beta (any status),
    the accounts matching the beta's problem searches, and, when asked, the active or invited
    members of other running betas. The sample is the lowest ranks of the pool for the cohort's
    seed, in proportion to each stratum's share when stratified. Unless `dry_run`, the accounts
    are enrolled with the seed and the pool's size as their reason, and the draw is recorded in
    the cohort's criteria. `mix_by` names an attribute whose values are counted in the sample,
    the pool and the early adopters. Attribute names are matched as resolve_names() says.
    Refused when the user may not change the beta, the beta is not running or is overdue, the
    cohort is not a random sample, no account has an attribute named, the seed differs from the
    cohort's, or the pool is empty or smaller than the sample.
    """
    require_edit(actor.user, beta)
    check_open(beta, today)
    if cohort.beta_id != beta.id:
        raise NotFound(f"Cohort {cohort.slug!r} is not part of beta {beta.key}.")
    if cohort.kind != CohortKind.RANDOM_SAMPLE:
        raise NotRandomSample(
            f"{not_a_sample_cohort(cohort)} Draw into one of the beta's random-sample cohorts, "
            "or add one."
        )
    spec = check_spec(spec)
    mix_by = (mix_by or "").strip() or None
    if mix_by is not None and not is_attribute_name(mix_by):
        raise Invalid(
            "Compare the mix of an attribute named with 1 to 100 characters, without quotes.",
            [{"field": "mix_by", "message": "Not an attribute name."}],
        )
    spec, mix_by, spellings = resolve_names(session, spec, mix_by)
    if not dry_run:
        # One draw into a cohort at a time (PostgreSQL; SQLite's writers queue anyway): the second
        # sees the first's seed and members, so both continue one order and none is drawn twice.
        session.refresh(cohort, with_for_update=True)
    seed = _seed(cohort, spec.seed)
    dialect = session.get_bind().dialect.name
    stratum = (
        any_spelling(dialect, spellings[spec.stratify_by], attribute_json)
        if spec.stratify_by
        else null()
    )
    value = any_spelling(dialect, spellings[mix_by], attribute_json) if mix_by else null()
    pool = (
        select(Account.external_id, stratum.label("stratum"), value.label("value"))
        .where(*_pool_conditions(session, beta, spec, dialect, spellings))
        .subquery()
    )
    counts = _count(session, pool)
    if spec.stratify_by is not None and len(counts.strata) > MAX_STRATA:
        raise Invalid(
            f"The pool has more than {MAX_STRATA} values of this attribute: stratify by one with "
            "fewer values, such as a plan or a region.",
            [{"field": "stratify_by", "message": f"At most {MAX_STRATA} values."}],
        )
    if counts.pool_size == 0:
        raise _empty_pool(spec)
    if counts.pool_size < spec.size:
        raise PoolTooSmall(
            f"The pool holds {plural(counts.pool_size, 'account')}, fewer than the {spec.size:,} "
            f"asked for: draw at most {counts.pool_size:,}, or loosen the filters.",
            [{"field": "size", "message": f"At most {counts.pool_size:,}, the pool's size."}],
        )
    allocation = allocate(counts.strata, spec.size)
    drawn = _lowest(
        session,
        pool,
        f"{beta.key}\x1f{seed}\x1f",
        allocation,
        _first_fraction(counts.strata, allocation),
    )
    sample = Sample(seed, counts.pool_size, [external_id for _, external_id, _ in drawn])
    if mix_by is not None:
        sample.mix = Mix(
            mix_by,
            Counter(v for _, _, v in drawn),
            Counter(counts.mix),
            _early_adopter_mix(session, beta, value),
        )
    if not dry_run:
        sample.enrollment = enroll(
            session, actor, beta, cohort, sample.accounts, sample.reason, today
        )
        _remember(session, actor, beta, cohort, spec, sample)
    return sample


def _empty_pool(spec: SampleSpec) -> PoolTooSmall:
    """Return the refusal of a draw from an empty pool: what left every account out."""
    if spec.filters:
        shown = "; ".join(f"{name} = {', '.join(values)}" for name, values in spec.filters.items())
        message = (
            f"No account in the pool matches the filters {shown}: loosen them "
            "(take a line away, or add values to one)."
        )
        return PoolTooSmall(message, [{"field": "filters", "message": message}])
    left_out = "is in this beta already or matches one of its problem searches"
    if spec.exclude_other_betas:
        left_out = (
            "is in this beta already, active or invited in another running beta, or matches "
            "one of this beta's problem searches"
        )
    return PoolTooSmall(
        f"No account is left to draw: every account {left_out}.",
        [{"field": "size", "message": f"The pool is empty: every account {left_out}."}],
    )


def _remember(
    session: Session, actor: Actor, beta: Beta, cohort: Cohort, spec: SampleSpec, sample: Sample
) -> None:
    """Record the draw in the cohort's criteria, so that it can be explained and repeated."""
    draw = {
        "size": spec.size,
        "pool_size": sample.pool_size,
        "enrolled": len(sample.enrollment.enrolled) if sample.enrollment else 0,
        "filters": {name: list(values) for name, values in spec.filters.items()},
        "stratify_by": spec.stratify_by,
        "exclusions": {
            "members_of_this_beta": "any status",
            "problem_searches": [s.query for s in list_problem_searches(session, beta)],
            "other_running_betas": spec.exclude_other_betas,
        },
        "drawn_at": utcnow().isoformat(timespec="seconds"),
    }
    # A new dict, not a change in place: the JSON column notices assignments only.
    cohort.criteria = {
        **cohort.criteria,
        "algorithm": ALGORITHM,
        "seed": sample.seed,
        "draws": [*cohort.criteria.get("draws", []), draw],
    }
    session.flush()
    record(
        session,
        actor,
        "cohort.sampled",
        cohort,
        beta=beta,
        seed=sample.seed,
        size=spec.size,
        pool_size=sample.pool_size,
    )
