"""Reproducible random samples of accounts that never asked: feedback beyond the early adopters.

The draw order of a beta's accounts is fixed by a seed: every account is ranked by the SHA-1 of
the beta's key, the seed and its external id, and a sample of N is the N lowest ranks in the pool.
No database random() is involved, so the same seed, pool and size give the same accounts on SQLite
and PostgreSQL and in any Python version, and growing a wave with the cohort's seed continues the
same order (accounts drawn before are members now, so the pool leaves them out).

The pool is filtered in SQL; only external ids (with a stratum and a mix value when asked) stream
into Python, and at most twice the sample's size is kept in memory per stratum, so pools of a
million accounts are fine. Attributes are compared as text, the same on both databases: strings
as they are, numbers and booleans as written in the JSON (12, 12.5, true), anything else missing.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Select, String, Text, case, cast, exists, func, literal, null, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from betas.audit import Actor, record
from betas.auth import require_edit
from betas.db import utcnow
from betas.errors import DomainError, Invalid, NotFound
from betas.models import Beta, BetaState
from cohorts.finder import list_problem_searches, matching_account_ids
from cohorts.models import Account, Cohort, CohortKind, Membership, MembershipStatus
from cohorts.services import Enrollment, check_open, enroll

ALGORITHM = "sha1-lowest-v1"
MAX_SIZE = 10_000
MAX_STRATA = 100
MAX_FILTERS = 20
MAX_FILTER_VALUES = 100
VALUE_MAX = 200
SEED_PATTERN = r"[A-Za-z0-9._-]{1,64}"
# Any name an import can give an attribute, but for quotes and backslashes, which SQLite's JSON
# paths cannot carry.
ATTRIBUTE_PATTERN = r"[^\"\\\x00-\x1f\x7f]{1,100}"
# Rows stream from the database in batches of this many.
BATCH = 10_000
# Above every SHA-1 digest: the bar of a stratum that has no candidates yet.
_ABOVE_ALL = b"\xff" * 21

_SEED = re.compile(SEED_PATTERN)
_ATTRIBUTE = re.compile(ATTRIBUTE_PATTERN)
# What the databases call the JSON types that have a text value of their own.
_SQLITE_SCALARS = ("integer", "real", "true", "false")
_POSTGRES_SCALARS = ("string", "number", "boolean")


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
class SampleSpec:
    """What to draw: how many accounts, with which seed, from which pool, stratified or not."""

    size: int
    seed: str | None = None
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    stratify_by: str | None = None
    exclude_other_betas: bool = False


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


def new_seed() -> str:
    """Return a fresh random seed."""
    return secrets.token_hex(8)


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


def attribute_text(dialect: str, name: str) -> ColumnElement[str | None]:
    """Return an SQL expression for an account attribute as text, the same on both databases.

    SQLite's json_extract() turns numbers and booleans into SQL numbers (true becomes 1, 1.5e3
    becomes 1500.0) and PostgreSQL's ->> keeps the JSON text: so on SQLite, strings come from ->>
    and numbers and booleans from ->, which gives their JSON text as written. Lists, objects and
    null are NULL on both, like a missing attribute.
    """
    if dialect == "sqlite":
        path = literal(f'$."{name}"', String)
        written = Account.attributes.op("->", return_type=Text)(path)
        return case(
            {"text": Account.attributes.op("->>", return_type=Text)(path)}
            | dict.fromkeys(_SQLITE_SCALARS, written),
            value=func.json_type(Account.attributes, path),
            else_=null(),
        )
    node = Account.attributes[name]
    return case(
        (func.json_typeof(node).in_(_POSTGRES_SCALARS), node.as_string()),
        else_=null(),
    )


def attribute_json(dialect: str, name: str) -> ColumnElement[str | None]:
    """Return an SQL expression for an account attribute's JSON as stored, such as '"pro"' or 12.

    Cheaper than attribute_text() (the attributes are parsed once per account, not twice) for the
    columns that stream a whole pool; text_of() turns the results into the same text.
    """
    if dialect == "sqlite":
        return Account.attributes.op("->", return_type=Text)(literal(f'$."{name}"', String))
    return cast(Account.attributes[name], Text)


def text_of(stored: str | None) -> str | None:
    """Return an attribute's text from its JSON as stored, as attribute_text() gives it in SQL."""
    if stored is None or stored == "null" or stored[:1] in ("[", "{"):
        return None
    if stored[:1] == '"':
        return json.loads(stored)
    return stored


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
        if not _ATTRIBUTE.fullmatch(name):
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
    if stratify_by is not None and not _ATTRIBUTE.fullmatch(stratify_by):
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
    session: Session, beta: Beta, spec: SampleSpec, dialect: str
) -> list[ColumnElement[bool]]:
    """Return the conditions an account meets to be in the pool of a beta's sample."""
    conditions = [
        attribute_text(dialect, name).in_(values) for name, values in spec.filters.items()
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


@dataclass
class _Scan:
    """The pool as one pass saw it: accounts per stratum, the best candidates, the mix.

    Strata and mix values are keyed as the database stored them until decoded() turns them into
    text, so that two spellings of one string (an escaped and a plain "é") become one value.
    """

    counts: dict[str | None, int]
    kept: dict[str | None, list[tuple[bytes, str, str | None]]]
    mix: dict[str | None, int]

    @property
    def pool_size(self) -> int:
        """Return how many accounts the pool holds."""
        return sum(self.counts.values())

    def decoded(self) -> _Scan:
        """Return the scan keyed by the text of each stratum and mix value."""
        counts: defaultdict[str | None, int] = defaultdict(int)
        kept: defaultdict[str | None, list[tuple[bytes, str, str | None]]] = defaultdict(list)
        mix: defaultdict[str | None, int] = defaultdict(int)
        for stored, n in self.counts.items():
            counts[text_of(stored)] += n
        for stored, candidates in self.kept.items():
            kept[text_of(stored)] += [(r, i, text_of(v)) for r, i, v in candidates]
        for stored, n in self.mix.items():
            mix[text_of(stored)] += n
        return _Scan(dict(counts), dict(kept), dict(mix))


def _scan(
    rows: Iterable[tuple[str, str | None, str | None]],
    beta_key: str,
    seed: str,
    size: int,
    *,
    stratified: bool,
) -> _Scan:
    """Rank every account of the pool; keep, per stratum, (at least) the `size` lowest ranks."""
    # Each account's rank is sha1(f"{beta_key}\x1f{seed}\x1f{external_id}"), computed faster: the
    # prefix is hashed once and copied, and raw digests sort exactly as their hex forms do.
    prefix = hashlib.sha1(f"{beta_key}\x1f{seed}\x1f".encode())
    # defaultdict, not Counter: a Counter's += costs three times as much, per account.
    counts: defaultdict[str | None, int] = defaultdict(int)
    mix: defaultdict[str | None, int] = defaultdict(int)
    kept: dict[str | None, list[tuple[bytes, str, str | None]]] = {}
    # Per stratum, the rank an account must beat to be drawn: the size-th lowest so far. Once the
    # first accounts are in, almost every account fails this test and costs only its hash.
    bars: dict[str | None, bytes] = {}
    for external_id, stratum, value in rows:
        counts[stratum] += 1
        mix[value] += 1
        digest = prefix.copy()
        digest.update(external_id.encode())
        ranked = digest.digest()
        if ranked < bars.get(stratum, _ABOVE_ALL):
            candidates = kept.get(stratum)
            if candidates is None:
                if stratified and len(kept) == MAX_STRATA:
                    raise Invalid(
                        f"The pool has more than {MAX_STRATA} values of this attribute: stratify "
                        "by one with fewer values, such as a plan or a region.",
                        [{"field": "stratify_by", "message": f"At most {MAX_STRATA} values."}],
                    )
                candidates = kept[stratum] = []
            candidates.append((ranked, external_id, value))
            if len(candidates) >= 2 * size:
                candidates.sort()
                del candidates[size:]
                bars[stratum] = candidates[-1][0]
    return _Scan(dict(counts), kept, dict(mix))


def _stream(session: Session, statement: Select) -> Iterator[tuple]:
    """Yield the statement's rows as the driver gives them, a batch at a time.

    The pool can hold a million accounts, and SQLAlchemy's rows cost about as much each as the
    hashing: the driver's own cursor (a server-side one on PostgreSQL, which would otherwise load
    every row at once) takes a third or more off the time. The statement is compiled by
    SQLAlchemy, but its bound values reach the driver without SQLAlchemy's type processing, so
    only plain values may be bound.
    """
    session.flush()
    connection = session.connection()
    compiled = statement.compile(connection, compile_kwargs={"render_postcompile": True})
    values = compiled.params
    unsupported = {name: v for name, v in values.items() if not isinstance(v, str | int | float)}
    if unsupported:
        raise TypeError(f"the pool query binds values that need SQLAlchemy's types: {unsupported}")
    driver = connection.connection.driver_connection
    if connection.dialect.name == "sqlite":
        cursor = driver.cursor()
        parameters: Sequence | Mapping = [values[name] for name in compiled.positiontup]
    else:
        cursor = driver.cursor(name=f"sample_pool_{secrets.token_hex(4)}")
        parameters = values
    try:
        cursor.execute(compiled.string, parameters)
        while batch := cursor.fetchmany(BATCH):
            yield from batch
    finally:
        cursor.close()


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
    the pool and the early adopters. Refused when the user may not change the beta, the beta is
    not running or is overdue, the cohort is not a random sample, the seed differs from the
    cohort's, or the pool is smaller than the sample.
    """
    require_edit(actor.user, beta)
    check_open(beta, today)
    if cohort.beta_id != beta.id:
        raise NotFound(f"Cohort {cohort.slug!r} is not part of beta {beta.key}.")
    if cohort.kind != CohortKind.RANDOM_SAMPLE:
        raise NotRandomSample(
            f"{cohort.name} is a {cohort.kind.value.replace('_', ' ')} cohort: random samples go "
            "in a random-sample cohort."
        )
    spec = check_spec(spec)
    mix_by = (mix_by or "").strip() or None
    if mix_by is not None and not _ATTRIBUTE.fullmatch(mix_by):
        raise Invalid(
            "Compare the mix of an attribute named with 1 to 100 characters, without quotes.",
            [{"field": "mix_by", "message": "Not an attribute name."}],
        )
    if not dry_run:
        # One draw into a cohort at a time (PostgreSQL; SQLite's writers queue anyway): the second
        # sees the first's seed and members, so both continue one order and none is drawn twice.
        session.refresh(cohort, with_for_update=True)
    seed = _seed(cohort, spec.seed)
    dialect = session.get_bind().dialect.name
    stratum = attribute_json(dialect, spec.stratify_by) if spec.stratify_by else null()
    value = attribute_json(dialect, mix_by) if mix_by else null()
    pool = select(Account.external_id, stratum, value).where(
        *_pool_conditions(session, beta, spec, dialect)
    )
    scan = _scan(
        _stream(session, pool), beta.key, seed, spec.size, stratified=spec.stratify_by is not None
    ).decoded()
    if scan.pool_size < spec.size:
        raise PoolTooSmall(
            f"The pool holds {scan.pool_size:,} account(s), fewer than the {spec.size:,} asked "
            f"for: draw at most {scan.pool_size:,}, or loosen the filters.",
            [{"field": "size", "message": f"At most {scan.pool_size:,}, the pool's size."}],
        )
    allocation = allocate(scan.counts, spec.size)
    drawn = sorted(
        candidate
        for stratum_value, candidates in scan.kept.items()
        for candidate in sorted(candidates)[: allocation[stratum_value]]
    )
    sample = Sample(seed, scan.pool_size, [external_id for _, external_id, _ in drawn])
    if mix_by is not None:
        sample.mix = Mix(
            mix_by,
            Counter(v for _, _, v in drawn),
            Counter(scan.mix),
            _early_adopter_mix(session, beta, attribute_json(dialect, mix_by)),
        )
    if not dry_run:
        sample.enrollment = enroll(
            session, actor, beta, cohort, sample.accounts, sample.reason, today
        )
        _remember(session, actor, beta, cohort, spec, sample)
    return sample


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


def last_draw(cohort: Cohort) -> dict | None:
    """Return the parameters of the cohort's latest draw, if it had one."""
    draws = cohort.criteria.get("draws") or []
    return draws[-1] if draws else None
