"""Reading who is in a beta: members, counts, the CSV for the messaging tool, accounts.

Accounts: the list (by id or name, attribute, beta) with the betas each is in, an account's
history of betas, and its conversations.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.elements import ColumnElement

from betas.errors import Invalid, NotFound
from betas.exports import csv_lines, safe_cell
from betas.models import Beta, BetaState, Risk
from cohorts.attributes import (
    any_spelling,
    attribute_text,
    fold_name,
    known_attributes,
    spellings_of,
    unknown_attribute,
)
from cohorts.models import (
    Account,
    Author,
    Cohort,
    Conversation,
    ConversationPart,
    Membership,
    MembershipStatus,
)

CSV_COLUMNS = ("account_id", "name", "cohort", "status", "enrolled_at", "notified_at")
OPENING_MAX = 160


def members(
    session: Session,
    beta: Beta,
    cohort: Cohort | None = None,
    statuses: Collection[MembershipStatus] | None = None,
) -> list[Membership]:
    """Return a beta's memberships (or one cohort's, or those in `statuses`), accounts loaded."""
    query = (
        select(Membership)
        .join(Membership.account)
        .where(Membership.beta_id == beta.id)
        .options(
            selectinload(Membership.account),
            selectinload(Membership.cohort),
            selectinload(Membership.enrolled_by),
        )
        .order_by(Membership.enrolled_at, Account.external_id)
    )
    if cohort is not None:
        query = query.where(Membership.cohort_id == cohort.id)
    if statuses is not None:
        query = query.where(Membership.status.in_(list(statuses)))
    return list(session.scalars(query))


def messageable(beta: Beta) -> frozenset[MembershipStatus]:
    """Return the statuses of the members that the messaging tool may write to."""
    # A high-risk beta's invited accounts must be asked whether they join: they are written to too.
    if beta.risk == Risk.HIGH:
        return frozenset({MembershipStatus.ACTIVE, MembershipStatus.INVITED})
    return frozenset({MembershipStatus.ACTIVE})


def export_members(
    session: Session,
    beta: Beta,
    zone: ZoneInfo,
    *,
    cohort: Cohort | None = None,
    everyone: bool = False,
) -> Iterator[str]:
    """Return the CSV of a beta's (or a cohort's) members for the messaging tool, line by line.

    By default it holds only the members that may be messaged (see messageable()); `everyone`
    adds those who opted out, declined or were removed, which the status column tells apart.
    """
    statuses = None if everyone else messageable(beta)
    return members_csv(members(session, beta, cohort, statuses), zone)


def members_csv(memberships: Sequence[Membership], zone: ZoneInfo) -> Iterator[str]:
    """Yield a CSV of members, one line at a time: the account, its membership, its attributes.

    Every attribute name found among these accounts gets a column, in alphabetical order; one
    that has the name of a fixed column is headed attribute:<name>.
    """
    names = sorted(
        {name for m in memberships for name in m.account.attributes or {}},
        key=lambda name: (name.casefold(), name),
    )

    def when(value) -> str:
        return value.astimezone(zone).isoformat(timespec="seconds") if value else ""

    def rows() -> Iterator[list]:
        yield [
            *CSV_COLUMNS,
            *(safe_cell(f"attribute:{n}" if n in CSV_COLUMNS else n) for n in names),
        ]
        for m in memberships:
            attributes = m.account.attributes or {}
            yield [
                safe_cell(m.account.external_id),
                safe_cell(m.account.name),
                m.cohort.slug,
                m.status.value,
                when(m.enrolled_at),
                when(m.notified_at),
                *(_attribute_cell(attributes.get(n)) for n in names),
            ]

    return csv_lines(rows())


def _attribute_cell(value: object) -> str:
    # Numbers and booleans are written as in the JSON (a number is no formula); the rest is text.
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return safe_cell(value)
    return safe_cell(json.dumps(value, ensure_ascii=False))


@dataclass(frozen=True)
class Headcount:
    """How many members a cohort has in each status, and how many active ones wait for a notice."""

    by_status: Mapping[str, int]
    not_notified: int

    @property
    def planned(self) -> int:
        """Return the members that count against the planned size: active and invited."""
        return self.by_status.get("active", 0) + self.by_status.get("invited", 0)


def headcount(memberships: Iterable[Membership]) -> Headcount:
    """Count memberships by status, and the active members not notified yet."""
    by_status: Counter[str] = Counter()
    not_notified = 0
    for m in memberships:
        by_status[m.status.value] += 1
        if m.status == MembershipStatus.ACTIVE and m.notified_at is None:
            not_notified += 1
    return Headcount(dict(by_status), not_notified)


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


def cohort_counts(session: Session, beta: Beta) -> dict[int, dict[str, int]]:
    """Return, for each cohort of the beta, how many members it has in each status."""
    counts: dict[int, dict[str, int]] = {}
    rows = session.execute(
        select(Membership.cohort_id, Membership.status, func.count())
        .where(Membership.beta_id == beta.id)
        .group_by(Membership.cohort_id, Membership.status)
    )
    for cohort_id, status, n in rows:
        counts.setdefault(cohort_id, {})[status.value] = n
    return counts


def account_history(session: Session, account: Account) -> list[Membership]:
    """Return every beta the account has been in, most recent first."""
    return list(
        session.scalars(
            select(Membership)
            .where(Membership.account_id == account.id)
            .options(selectinload(Membership.beta), selectinload(Membership.cohort))
            .order_by(Membership.enrolled_at.desc())
        )
    )


def other_running_betas(
    session: Session, account_ids: Iterable[int], beta: Beta
) -> dict[int, list[str]]:
    """Return, for each account, the keys of other running betas it is an active member of."""
    ids = list(account_ids)
    found: dict[int, list[str]] = {}
    if not ids:
        return found
    rows = session.execute(
        select(Membership.account_id, Beta.key)
        .join(Beta, Beta.id == Membership.beta_id)
        .where(
            Membership.account_id.in_(ids),
            Membership.beta_id != beta.id,
            Beta.state == BetaState.RUNNING,
            Membership.status.in_([MembershipStatus.ACTIVE, MembershipStatus.INVITED]),
        )
        .order_by(Beta.key)
    )
    for account_id, key in rows:
        found.setdefault(account_id, []).append(key)
    return found


def get_account(session: Session, external_id: str) -> Account:
    """Return the account with this external id, or raise NotFound."""
    account = session.scalar(select(Account).where(Account.external_id == external_id))
    if account is None:
        raise NotFound(f"No account has the id {external_id!r}.")
    return account


@dataclass(frozen=True)
class AccountFilter:
    """Which accounts to list: id or name holding `q`, attributes, members of a beta."""

    q: str = ""
    # Attribute name → any of these values; names match whatever their case and spacing.
    attributes: Mapping[str, Sequence[str]] = field(default_factory=dict)
    beta_key: str | None = None


@dataclass(frozen=True)
class AccountPage:
    """One page of accounts, how many match in all, and the memberships of each account shown."""

    accounts: list[Account]
    total: int
    memberships: Mapping[int, list[Membership]]


def _attribute_conditions(
    session: Session, wanted: Mapping[str, Sequence[str]]
) -> list[ColumnElement[bool]]:
    """Return a condition per attribute: stored under any spelling of its name, one of its values.

    Refused, on the attribute field, when no account has an attribute of that name.
    """
    if not wanted:
        return []
    known = known_attributes(session)
    spellings = spellings_of(known)
    dialect = session.get_bind().dialect.name
    conditions, problems = [], []
    for name, values in wanted.items():
        stored = spellings.get(fold_name(name))
        if stored is None:
            problems.append({"field": "attribute", "message": unknown_attribute(name, known)})
        else:
            conditions.append(any_spelling(dialect, stored, attribute_text).in_(list(values)))
    if problems:
        raise Invalid(" ".join(p["message"] for p in problems), problems)
    return conditions


def find_accounts(session: Session, wanted: AccountFilter, page: int, per_page: int) -> AccountPage:
    """Return one page of the accounts `wanted` describes, by id, with the betas each is in.

    Refused when a wanted attribute is one that no account has.
    """
    query = select(Account)
    q = wanted.q
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        query = query.where(or_(Account.external_id.ilike(like), Account.name.ilike(like)))
    conditions = _attribute_conditions(session, wanted.attributes)
    if wanted.beta_key:
        conditions.append(
            Account.id.in_(
                select(Membership.account_id)
                .join(Beta, Beta.id == Membership.beta_id)
                .where(Beta.key == wanted.beta_key)
            )
        )
    if conditions:
        query = query.where(and_(*conditions))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    accounts = list(
        session.scalars(
            query.order_by(Account.external_id).limit(per_page).offset((page - 1) * per_page)
        )
    )
    found: dict[int, list[Membership]] = {a.id: [] for a in accounts}
    if accounts:
        for m in session.scalars(
            select(Membership)
            .where(Membership.account_id.in_(list(found)))
            .options(selectinload(Membership.beta))
            .order_by(Membership.enrolled_at.desc(), Membership.id.desc())
        ):
            found[m.account_id].append(m)
    return AccountPage(accounts, total, found)


@dataclass(frozen=True)
class ConversationLine:
    """A conversation as the account's page lists it: when, tags, parts, the customer's opening."""

    external_id: str
    started_at: datetime
    tags: list[str]
    parts: int
    opening: str


def _opening(text: str | None) -> str:
    """Return the first words of a text, cut at a word and marked with an ellipsis when cut."""
    words = " ".join((text or "").split())
    if len(words) <= OPENING_MAX:
        return words
    return words[:OPENING_MAX].rsplit(" ", 1)[0] + "…"


def account_conversations(
    session: Session, account: Account, page: int, per_page: int
) -> tuple[list[ConversationLine], int]:
    """Return one page of the account's conversations, newest first, and how many it has."""
    total = session.scalar(select(func.count()).where(Conversation.account_id == account.id))
    parts = (
        select(func.count())
        .where(ConversationPart.conversation_id == Conversation.id)
        .scalar_subquery()
    )
    # Only the head of the first customer part: bodies can be long, and only the opening shows.
    opening = (
        select(func.substr(ConversationPart.body, 1, OPENING_MAX * 4))
        .where(
            ConversationPart.conversation_id == Conversation.id,
            ConversationPart.author == Author.CUSTOMER,
        )
        .order_by(ConversationPart.created_at, ConversationPart.id)
        .limit(1)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Conversation, parts, opening)
        .where(Conversation.account_id == account.id)
        .options(selectinload(Conversation.tags))
        .order_by(Conversation.started_at.desc(), Conversation.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    lines = [
        ConversationLine(
            c.external_id, c.started_at, [t.tag for t in c.tags], n_parts, _opening(first)
        )
        for c, n_parts, first in rows
    ]
    return lines, total
