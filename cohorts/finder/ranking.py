"""Searching for early adopters: the criteria, the ranking statement, and the accounts found.

A search reads only what customers wrote (a teammate's reply or a bot message that names a feature
is not evidence the customer asked) and answers with accounts, not messages: ranked by how many
distinct conversations matched, how well and how recently, each with a few highlighted quotes and
whether the account is in this beta or another running one already.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape
from sqlalchemy import CTE, Integer, Select, cast, distinct, exists, func, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.elements import ColumnElement

from betas.db import utcnow
from betas.models import Beta
from cohorts.finder.backends import START, STOP, Backend, Scan, backend_for
from cohorts.finder.query import InvalidQuery, Query, clean_text, parse_query
from cohorts.models import Account, Conversation, ConversationTag, Membership
from cohorts.roster import other_running_betas

MAX_TAGS = 20
MAX_TAG_CHARS = 100
MAX_LIMIT = 200
EVIDENCE_PER_ACCOUNT = 3
# Distinct conversations dominate the score: match quality and recency only order accounts that
# asked equally often, so both weights together stay below one conversation.
QUALITY_WEIGHT = 0.5
RECENCY_WEIGHT = 0.25
RECENCY_DAYS = 90
QUOTE_CHARS = 100
# Dates beyond these cannot bound a real conversation, and converting them between zones overflows.
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(2999, 12, 31)

_MARKED = re.compile(f"{START}([^{START}{STOP}]*){STOP}")

_conversations = Conversation.__table__


# What to search, and where


@dataclass(frozen=True)
class Criteria:
    """A search as the user gave it: query text, date range of the matching message, tags."""

    query: str
    since: date | None = None
    until: date | None = None
    tags: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """Return the criteria as JSON values, to record with a cohort."""
        return {
            "query": self.query,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "tags": list(self.tags),
        }


@dataclass(frozen=True)
class _Filters:
    since: datetime | None
    until: datetime | None
    tags: tuple[str, ...]
    accounts: tuple[int, ...] | None = None


def _filters(criteria: Criteria, zone: ZoneInfo) -> _Filters:
    """Check the date range and tags; turn the days into UTC bounds in the configured zone."""
    since, until = criteria.since, criteria.until
    if since and until and since > until:
        raise InvalidQuery(
            f"The search starts on {since} but ends earlier, on {until}: swap the dates.",
            [{"field": "until", "message": "On or after the start date."}],
        )
    tags = tuple(dict.fromkeys(t for t in (clean_text(t) for t in criteria.tags) if t))
    if len(tags) > MAX_TAGS or any(len(t) > MAX_TAG_CHARS for t in tags):
        raise InvalidQuery(
            f"Filter by at most {MAX_TAGS} tags of at most {MAX_TAG_CHARS} characters each.",
            [{"field": "tags", "message": f"At most {MAX_TAGS} tags."}],
        )

    def start_of(day: date, later: int = 0) -> datetime:
        day = min(max(day, EARLIEST_DAY), LATEST_DAY) + timedelta(days=later)
        return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)

    return _Filters(
        since=start_of(since) if since else None,
        until=start_of(until, later=1) if until else None,
        tags=tags,
    )


def _within(scan: Scan, filters: _Filters) -> list[ColumnElement[bool]]:
    """Return the conditions of a pass: its parts match, within the filters."""
    entries = scan.entries.c
    conditions = [scan.matches]
    if filters.since:
        conditions.append(entries.created_at >= filters.since)
    if filters.until:
        conditions.append(entries.created_at < filters.until)
    if filters.tags:
        conditions.append(
            exists().where(
                ConversationTag.conversation_id == entries.conversation_id,
                ConversationTag.tag.in_(filters.tags),
            )
        )
    if filters.accounts is not None:
        conditions.append(entries.account_id.in_(filters.accounts))
    return conditions


# Results


@dataclass(frozen=True)
class Evidence:
    """A matching message: its conversation and part, when it was written, the quote marked."""

    conversation: str
    at: datetime
    snippet: Markup
    part_id: int

    @property
    def quote(self) -> str:
        """Return the quote as plain text, without highlights or cut marks."""
        return self.snippet.striptags().strip("…").strip()


@dataclass
class AccountMatch:
    """An account that asked: how often, how recently, its evidence, and where it is already."""

    account_id: int
    account: str
    name: str
    score: float
    conversations: int
    last_match_at: datetime
    evidence: list[Evidence] = field(default_factory=list)
    membership: Membership | None = None
    other_betas: list[str] = field(default_factory=list)

    @property
    def taken(self) -> str:
        """Say where the account is in this beta already ("already in Wave 1"), or ''."""
        return f"already in {self.membership.cohort.name}" if self.membership else ""

    def reason(self, zone: ZoneInfo) -> str:
        """Return why the account is an early adopter, citing the evidence."""
        asked = f"{self.conversations} conversation{'s' * (self.conversations != 1)}"
        text = f"asked in {asked}, last {self.last_match_at.astimezone(zone).date()}"
        quote = self.evidence[0].quote if self.evidence else ""
        if len(quote) > QUOTE_CHARS:
            quote = quote[:QUOTE_CHARS].rsplit(" ", 1)[0] + "…"
        return f'{text}: "{quote}"' if quote else text


@dataclass
class SearchResult:
    """The accounts found, best first, and how many accounts and messages matched in all."""

    query: Query
    total_accounts: int
    matched_parts: int
    matches: list[AccountMatch]


def _plain(marked: str) -> str:
    return marked.replace(START, "").replace(STOP, "")


def highlight(marked: str) -> Markup:
    """Escape a marked passage and turn its markers into <mark> elements."""
    html = _MARKED.sub(r"<mark>\1</mark>", str(escape(marked)))
    return Markup(_plain(html))


def search(
    session: Session,
    beta: Beta,
    criteria: Criteria,
    *,
    limit: int = 20,
    zone: ZoneInfo = UTC,
    now: datetime | None = None,
    accounts: Collection[str] | None = None,
) -> SearchResult:
    """Find the accounts whose customers asked, best first, at most `limit` of them.

    Ranks in the database, grouped by account, however many messages match; quotes only the
    accounts returned. `accounts` (external ids) narrows the search to those accounts. Refused
    (InvalidQuery) for a query with nothing to look for, too long, or an impossible date range.
    """
    query = parse_query(criteria.query)
    filters = _filters(criteria, zone)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(f"Ask for 1 to {MAX_LIMIT} accounts.")
    if accounts is not None:
        ids = session.scalars(
            select(Account.id).where(Account.external_id.in_(list(accounts)))
        ).all()
        filters = replace(filters, accounts=tuple(ids))
    backend = backend_for(session)
    backend.prepare(session)
    rows = session.execute(_ranking(backend, query, filters, limit, now or utcnow())).all()
    if not rows:
        return SearchResult(query, 0, 0, [])
    snippets = backend.marked_snippets(session, query, [row.part_id for row in rows])
    matches: dict[int, AccountMatch] = {}
    for row in rows:
        match = matches.setdefault(
            row.account_id,
            AccountMatch(
                account_id=row.account_id,
                account=row.external_id,
                name=row.name,
                score=round(float(row.score), 4),
                conversations=row.conversations,
                last_match_at=row.last_match_at,
            ),
        )
        match.evidence.append(
            Evidence(
                row.conversation,
                row.part_at,
                highlight(snippets.get(row.part_id, "")),
                row.part_id,
            )
        )
    found = list(matches.values())
    _add_memberships(session, beta, found)
    return SearchResult(query, rows[0].total_accounts, rows[0].total_parts, found)


def _counted(backend: Backend, query: Query, filters: _Filters) -> CTE:
    """Return each matching account's distinct conversations and parts, in one pass unrated."""
    scan = backend.scan([query])
    entries = scan.entries.c
    return (
        select(
            entries.account_id,
            func.count(distinct(entries.conversation_id)).label("conversations"),
            func.count().label("parts"),
        )
        .select_from(scan.source)
        .where(*_within(scan, filters))
        .group_by(entries.account_id)
        .cte("counted")
        .prefix_with("MATERIALIZED")
    )


def _matched(backend: Backend, query: Query, filters: _Filters, accounts: Select) -> CTE:
    """Return the matching parts of `accounts`, each with its quality."""
    scan = backend.scan([query])
    entries = scan.entries.c
    return (
        select(
            entries.part_id,
            entries.conversation_id,
            entries.account_id,
            entries.created_at,
            scan.quality.label("quality"),
        )
        .select_from(scan.source)
        .where(*_within(scan, filters), entries.account_id.in_(accounts))
        .cte("matched")
        .prefix_with("MATERIALIZED")
    )


def _ranking(
    backend: Backend, query: Query, filters: _Filters, limit: int, now: datetime
) -> Select:
    """Return the statement ranking accounts: the best `limit`, with their latest evidence.

    Rating a part (bm25, ts_rank) costs about as much as finding it, so a first pass only counts
    each account's matching conversations and parts (`counted`). Quality and recency weigh less
    than one conversation together: only the accounts with at least as many conversations as the
    limit-th best can make the top (`contenders`), and the second pass keeps and rates their parts
    alone (`matched`), however many messages match. Those are grouped by account and scored; the
    top accounts' latest parts come from the same rows. One row comes back per evidence part: up
    to EVIDENCE_PER_ACCOUNT per account, most recent first.
    """
    counted = _counted(backend, query, filters)
    bar = (
        select(counted.c.conversations)
        .order_by(counted.c.conversations.desc())
        .limit(1)
        .offset(limit - 1)
        .scalar_subquery()
    )
    contenders = select(counted.c.account_id).where(
        counted.c.conversations >= func.coalesce(bar, 0)
    )
    matched = _matched(backend, query, filters, contenders)
    scored = (
        select(
            matched.c.account_id,
            func.count(distinct(matched.c.conversation_id)).label("conversations"),
            func.max(matched.c.quality).label("quality"),
            func.max(matched.c.created_at).label("last_match_at"),
        )
        .group_by(matched.c.account_id)
        .cte("scored")
    )
    recency = 1.0 / (1.0 + backend.age_in_days(scored.c.last_match_at, now) / RECENCY_DAYS)
    score = scored.c.conversations + QUALITY_WEIGHT * scored.c.quality + RECENCY_WEIGHT * recency
    ranked = (
        select(scored, score.label("score"))
        .order_by(score.desc(), scored.c.last_match_at.desc(), scored.c.account_id)
        .limit(limit)
        .cte("ranked")
    )
    # Filtering the kept rows by the few top accounts is a scan; joining them would index them.
    latest = (
        select(
            matched.c.account_id,
            matched.c.part_id,
            matched.c.conversation_id,
            matched.c.created_at.label("part_at"),
            func.row_number()
            .over(
                partition_by=matched.c.account_id,
                order_by=(matched.c.created_at.desc(), matched.c.part_id.desc()),
            )
            .label("position"),
        )
        .where(matched.c.account_id.in_(select(ranked.c.account_id)))
        .subquery("latest")
    )
    return (
        select(
            ranked,
            latest.c.part_id,
            latest.c.part_at,
            _conversations.c.external_id.label("conversation"),
            Account.external_id,
            Account.name,
            select(func.count()).select_from(counted).scalar_subquery().label("total_accounts"),
            select(cast(func.sum(counted.c.parts), Integer)).scalar_subquery().label("total_parts"),
        )
        .join(latest, latest.c.account_id == ranked.c.account_id)
        .join(_conversations, _conversations.c.id == latest.c.conversation_id)
        .join(Account, Account.id == ranked.c.account_id)
        .where(latest.c.position <= EVIDENCE_PER_ACCOUNT)
        .order_by(
            ranked.c.score.desc(),
            ranked.c.last_match_at.desc(),
            ranked.c.account_id,
            latest.c.position,
        )
    )


def _add_memberships(session: Session, beta: Beta, matches: list[AccountMatch]) -> None:
    ids = [m.account_id for m in matches]
    memberships = {
        m.account_id: m
        for m in session.scalars(
            select(Membership)
            .where(Membership.beta_id == beta.id, Membership.account_id.in_(ids))
            .options(selectinload(Membership.cohort))
        )
    }
    others = other_running_betas(session, ids, beta)
    for match in matches:
        match.membership = memberships.get(match.account_id)
        match.other_betas = others.get(match.account_id, [])
