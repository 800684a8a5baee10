"""Patterns in a beta's feedback: what kinds of thing were said, why, and by which cohorts.

"Look out for patterns of the same question": counts by type, the top reasons (grouped after
folding case, spacing and punctuation, `models.reason_key`), the repeated questions (question
and comprehension items grouped by reason), open blockers and the uncodified items; every
number split by the kind of cohort the account was in when it spoke (early adopters next to the
random sample, so that a biased group's voice is seen as such), with non-members as their own
column. Each number counts items the log can list with a `FeedbackFilter` (`Split.filter`), so
every number links to exactly its items.

`beta_patterns` reads it all in two statements, whatever the number of items: the items grouped
by everything a pattern splits on (at most one row per item), and the open blockers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from betas.models import Beta
from cohorts.models import Account, Cohort, CohortKind
from feedback.log import BLOCKER, NOT_A_MEMBER, QUESTION_TYPES, FeedbackFilter
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
    questions: list[ReasonGroup]  # reasons of question types, asked at least REPEATED times
    open_blockers: Split
    blockers: list[OpenBlocker]  # the open ones, oldest first
    uncodified: Split


def _with(wanted: FeedbackFilter, **values) -> FeedbackFilter:
    return FeedbackFilter(**{**wanted.__dict__, **values})


@dataclass
class _Tally:
    """Items and distinct accounts per column, counted as the grouped rows are read."""

    items: Counter = field(default_factory=Counter)
    accounts: defaultdict = field(default_factory=lambda: defaultdict(set))

    def add(self, column: str, account_id: int, n: int) -> None:
        self.items[column] += n
        self.accounts[column].add(account_id)

    def item_split(self, wanted: FeedbackFilter) -> Split:
        return Split(dict(self.items), sum(self.items.values()), wanted)

    def account_split(self, wanted: FeedbackFilter) -> Split:
        everyone = set().union(*self.accounts.values()) if self.accounts else set()
        counts = {column: len(ids) for column, ids in self.accounts.items()}
        return Split(counts, len(everyone), wanted)


def _groups(
    tallies: Mapping[str, _Tally], spellings: Mapping[str, Counter], wanted: FeedbackFilter
) -> list[ReasonGroup]:
    groups = [
        ReasonGroup(
            key,
            min(spellings[key].items(), key=lambda s: (-s[1], s[0]))[0],
            tally.item_split(_with(wanted, reason_is=key)),
            tally.account_split(_with(wanted, reason_is=key)),
        )
        for key, tally in tallies.items()
    ]
    return sorted(groups, key=lambda g: (-g.items.all, -g.accounts.all, g.reason.casefold()))


def _grouped_rows(session: Session, beta: Beta) -> Iterable:
    """Return the beta's items grouped by all a pattern splits on, with how many in each."""
    has_summary = FeedbackItem.summary.is_not(None)
    return session.execute(
        select(
            FeedbackItem.type,
            Cohort.kind,
            has_summary.label("has_summary"),
            FeedbackItem.blocker_state,
            FeedbackItem.reason_key,
            FeedbackItem.reason,
            FeedbackItem.account_id,
            func.count().label("n"),
        )
        .outerjoin(Cohort, Cohort.id == FeedbackItem.cohort_id)
        .where(FeedbackItem.beta_id == beta.id)
        .group_by(
            FeedbackItem.type,
            Cohort.kind,
            has_summary,
            FeedbackItem.blocker_state,
            FeedbackItem.reason_key,
            FeedbackItem.reason,
            FeedbackItem.account_id,
        )
    )


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
    """Return the patterns of a beta's feedback, in two statements whatever its size.

    `types` are the configured feedback types (SHIPCALL_FEEDBACK_TYPES): each is counted, even
    when no item has it yet, in that order; types found on items but no longer configured follow.
    Reads only; refuses nothing.
    """
    everything, uncodified, blockers = _Tally(), _Tally(), _Tally()
    by_type: dict[str, _Tally] = {t: _Tally() for t in types}
    reasons: dict[str, _Tally] = defaultdict(_Tally)
    questions: dict[str, _Tally] = defaultdict(_Tally)
    spellings: dict[str, Counter] = defaultdict(Counter)
    for row in _grouped_rows(session, beta):
        column = row.kind.value if row.kind else NOT_A_MEMBER
        everything.add(column, row.account_id, row.n)
        if not (row.type and row.has_summary and row.reason):
            uncodified.add(column, row.account_id, row.n)
        if row.type:
            by_type.setdefault(row.type, _Tally()).add(column, row.account_id, row.n)
        if row.type == BLOCKER and row.blocker_state == BlockerState.OPEN:
            blockers.add(column, row.account_id, row.n)
        if row.reason_key:
            spellings[row.reason_key][row.reason] += row.n
            reasons[row.reason_key].add(column, row.account_id, row.n)
            if row.type in QUESTION_TYPES:
                questions[row.reason_key].add(column, row.account_id, row.n)
    every = FeedbackFilter()
    configured = [t for t in types if t in by_type]
    others = sorted(t for t in by_type if t not in types)
    grouped = _groups(reasons, spellings, every)
    asked = _groups(questions, spellings, _with(every, questions=True))
    return Patterns(
        beta=beta,
        items=everything.item_split(every),
        types=[
            TypeCount(t, by_type[t].item_split(_with(every, type=t))) for t in configured + others
        ],
        reasons=grouped[:TOP_REASONS],
        reason_count=len(grouped),
        questions=[g for g in asked if g.items.all >= REPEATED],
        open_blockers=blockers.item_split(_with(every, open_blockers=True)),
        blockers=_open_blockers(session, beta),
        uncodified=uncodified.item_split(_with(every, codified=False)),
    )
