"""Patterns in a beta's feedback: what kinds of thing were said, why, and by which cohorts.

"Look out for patterns of the same question": counts by type, the top reasons (grouped after
folding case, spacing and punctuation, `models.reason_key`), the repeated questions (question
and comprehension items grouped by reason), open blockers and the uncodified items; every
number split by the kind of cohort the account was in when it spoke (early adopters next to the
random sample, so that a biased group's voice is seen as such), with non-members as their own
column. Each number counts items the log can list with a `FeedbackFilter` (`Split.filter`), so
every number links to exactly its items.

`beta_patterns` reads it all in five statements, whatever the number of items, each grouped in
the database so that few rows come back: the items per type, cohort kind, code and state; the
reasons' items and distinct accounts per cohort kind, and in all (distinct accounts do not add
up); each reason's spellings; the open blockers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import String, case, distinct, func, select, type_coerce
from sqlalchemy.orm import Session

from betas.models import Beta
from cohorts.models import Account, Cohort, CohortKind
from feedback.log import (
    BLOCKER,
    NOT_A_MEMBER,
    QUESTION_TYPES,
    FeedbackFilter,
    codified_condition,
)
from feedback.models import BlockerState, FeedbackItem

# The columns every pattern is split into, in the order pages show them.
COLUMNS: dict[str, str] = {
    CohortKind.EARLY_ADOPTERS.value: "Early adopters",
    CohortKind.RANDOM_SAMPLE.value: "Random sample",
    CohortKind.MANUAL.value: "Added by hand",
    NOT_A_MEMBER: "Not a member",
}
TOP_REASONS = 20
REPEATED = 2  # a question asked this many times is a pattern


@dataclass(frozen=True)
class Split:
    """A number per column (cohort kind, or not a member), the whole, and the items counted.

    `all` is not always the sum: an account counted in two columns counts once in all.
    `filter` selects exactly the counted items in the log; `filter_in(column)` those of a column.
    """

    counts: Mapping[str, int]
    all: int
    filter: FeedbackFilter = field(default_factory=FeedbackFilter)

    def __getitem__(self, column: str) -> int:
        return self.counts.get(column, 0)

    def filter_in(self, column: str) -> FeedbackFilter:
        """Return the log filter of the items counted in `column`."""
        return _with(self.filter, cohort_kind=column)


@dataclass(frozen=True)
class TypeCount:
    """How many items were codified with a type."""

    type: str
    items: Split


@dataclass(frozen=True)
class ReasonGroup:
    """Items whose reasons are the same once folded: how many, and from how many accounts.

    `reason` is the spelling used most often (the first in alphabetical order on a tie).
    """

    key: str
    reason: str
    items: Split
    accounts: Split


@dataclass(frozen=True)
class OpenBlocker:
    """A blocker still open: what stands in the way of shipping."""

    id: int
    account: str  # the account's external id
    account_name: str
    column: str  # its cohort kind when it was logged, or NOT_A_MEMBER
    summary: str | None
    original: str
    logged_at: datetime


@dataclass(frozen=True)
class Patterns:
    """The patterns of a beta's feedback; see the module's docstring."""

    beta: Beta
    items: Split
    types: list[TypeCount]
    reasons: list[ReasonGroup]  # the TOP_REASONS with the most items
    reason_count: int  # how many reasons there are in all
    questions: list[ReasonGroup]  # the TOP_REASONS questions asked at least REPEATED times
    question_count: int  # how many reasons of questions were asked REPEATED times in all
    open_blockers: Split
    blockers: list[OpenBlocker]  # the open ones, oldest first
    uncodified: Split


def _with(wanted: FeedbackFilter, **values) -> FeedbackFilter:
    return FeedbackFilter(**{**wanted.__dict__, **values})


# Plain text, not the enums: thousands of rows would each be turned into one for nothing.
_KIND = type_coerce(Cohort.kind, String)
_STATE = type_coerce(FeedbackItem.blocker_state, String)
_QUESTION = FeedbackItem.type.in_(QUESTION_TYPES)
# Per group of reasons: items and distinct accounts, of every type and of the question types.
_REASON_COUNTS = (
    func.count().label("items"),
    func.count(distinct(FeedbackItem.account_id)).label("accounts"),
    func.sum(case((_QUESTION, 1), else_=0)).label("questions"),
    func.count(distinct(case((_QUESTION, FeedbackItem.account_id)))).label("askers"),
)


def _column(kind: str | None) -> str:
    return kind or NOT_A_MEMBER


def _counts(session: Session, beta: Beta) -> Iterable:
    """Return how many items of the beta there are per type, cohort kind, code and state."""
    codified = case((codified_condition(), 1), else_=0)
    return session.execute(
        select(FeedbackItem.type, _KIND, codified.label("codified"), _STATE, func.count())
        .outerjoin(Cohort, Cohort.id == FeedbackItem.cohort_id)
        .where(FeedbackItem.beta_id == beta.id)
        .group_by(FeedbackItem.type, _KIND, codified, _STATE)
    )


def _reason_counts(session: Session, beta: Beta, per_kind: bool) -> Iterable:
    """Return the items and accounts of each folded reason, per cohort kind or in all."""
    kind = (_KIND,) if per_kind else ()
    return session.execute(
        select(FeedbackItem.reason_key, *kind, *_REASON_COUNTS)
        .outerjoin(Cohort, Cohort.id == FeedbackItem.cohort_id)
        .where(FeedbackItem.beta_id == beta.id, FeedbackItem.reason_key.is_not(None))
        .group_by(FeedbackItem.reason_key, *kind)
    )


def _spellings(session: Session, beta: Beta) -> dict[str, str]:
    """Return the spelling used most often for each folded reason (alphabetically on a tie)."""
    rows = session.execute(
        select(FeedbackItem.reason_key, FeedbackItem.reason, func.count())
        .where(FeedbackItem.beta_id == beta.id, FeedbackItem.reason_key.is_not(None))
        .group_by(FeedbackItem.reason_key, FeedbackItem.reason)
    )
    best: dict[str, tuple[int, str]] = {}
    for key, reason, n in rows:
        if key not in best or (-n, reason) < (-best[key][0], best[key][1]):
            best[key] = (n, reason)
    return {key: reason for key, (_n, reason) in best.items()}


def _split(counts: Mapping[str, int], wanted: FeedbackFilter, all_: int | None = None) -> Split:
    kept = {column: n for column, n in counts.items() if n}
    return Split(kept, sum(kept.values()) if all_ is None else all_, wanted)


def _reason_groups(session: Session, beta: Beta) -> tuple[list[ReasonGroup], list[ReasonGroup]]:
    """Return every group of reasons, and the groups of the question types' reasons."""
    per_kind: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(Counter))
    for row in _reason_counts(session, beta, per_kind=True):
        counted = per_kind[row.reason_key]
        column = _column(row.kind)
        counted["items"][column] = row.items
        counted["accounts"][column] = row.accounts
        counted["questions"][column] = row.questions or 0
        counted["askers"][column] = row.askers
    spellings = _spellings(session, beta)
    every, asked = [], []
    for row in _reason_counts(session, beta, per_kind=False):
        counted = per_kind[row.reason_key]
        wanted = FeedbackFilter(reason_is=row.reason_key)
        every.append(
            ReasonGroup(
                row.reason_key,
                spellings[row.reason_key],
                _split(counted["items"], wanted),
                _split(counted["accounts"], wanted, row.accounts),
            )
        )
        if row.questions:
            wanted = _with(wanted, questions=True)
            asked.append(
                ReasonGroup(
                    row.reason_key,
                    spellings[row.reason_key],
                    _split(counted["questions"], wanted),
                    _split(counted["askers"], wanted, row.askers),
                )
            )

    def ranked(groups: list[ReasonGroup]) -> list[ReasonGroup]:
        return sorted(groups, key=lambda g: (-g.items.all, -g.accounts.all, g.reason.casefold()))

    return ranked(every), ranked(asked)


def _open_blockers(session: Session, beta: Beta) -> list[OpenBlocker]:
    rows = session.execute(
        select(
            FeedbackItem.id,
            Account.external_id,
            Account.name,
            Cohort.kind,
            FeedbackItem.summary,
            FeedbackItem.original,
            FeedbackItem.logged_at,
        )
        .join(Account, Account.id == FeedbackItem.account_id)
        .outerjoin(Cohort, Cohort.id == FeedbackItem.cohort_id)
        .where(
            FeedbackItem.beta_id == beta.id,
            FeedbackItem.type == BLOCKER,
            FeedbackItem.blocker_state == BlockerState.OPEN,
        )
        .order_by(FeedbackItem.id)
    )
    return [
        OpenBlocker(
            row.id,
            row.external_id,
            row.name,
            row.kind.value if row.kind else NOT_A_MEMBER,
            row.summary,
            row.original,
            row.logged_at,
        )
        for row in rows
    ]


def beta_patterns(session: Session, beta: Beta, types: Sequence[str] = ()) -> Patterns:
    """Return the patterns of a beta's feedback, in five statements whatever its size.

    `types` are the configured feedback types (SHIPCALL_FEEDBACK_TYPES): each is counted, even
    when no item has it yet, in that order; types found on items but no longer configured follow.
    Reads only; refuses nothing.
    """
    everything: Counter = Counter()
    uncodified: Counter = Counter()
    blockers: Counter = Counter()
    by_type: dict[str, Counter] = {t: Counter() for t in types}
    for item_type, kind, codified, state, n in _counts(session, beta):
        column = _column(kind)
        everything[column] += n
        if not codified:
            uncodified[column] += n
        if item_type:
            by_type.setdefault(item_type, Counter())[column] += n
        if item_type == BLOCKER and state == BlockerState.OPEN.value:
            blockers[column] += n
    every = FeedbackFilter()
    ordered = [t for t in types if t in by_type] + sorted(t for t in by_type if t not in types)
    reasons, questions = _reason_groups(session, beta)
    repeated = [g for g in questions if g.items.all >= REPEATED]
    return Patterns(
        beta=beta,
        items=_split(everything, every),
        types=[TypeCount(t, _split(by_type[t], _with(every, type=t))) for t in ordered],
        reasons=reasons[:TOP_REASONS],
        reason_count=len(reasons),
        questions=repeated[:TOP_REASONS],
        question_count=len(repeated),
        open_blockers=_split(blockers, _with(every, open_blockers=True)),
        blockers=_open_blockers(session, beta),
        uncodified=_split(uncodified, _with(every, codified=False)),
    )
