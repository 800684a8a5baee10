"""The early-adopter finder: which accounts asked for a feature, in their own words, and proof.

A search reads only what customers wrote (a teammate's reply or a bot message that names a feature
is not evidence the customer asked) and answers with accounts, not messages: ranked by how many
distinct conversations matched, how well and how recently, each with a few highlighted quotes.

The query language is a web search's: words, "quoted phrases", OR between two terms, -excluded
terms; English stemming, case and accents ignored. Nothing the user types reaches a search engine's
own syntax: `parse_query` reduces the text to words made of letters and digits, and each backend
builds its query from those words alone. SQLite quotes every term as an FTS5 string and writes the
AND / OR / NOT itself; PostgreSQL passes every term as a bound value to phraseto_tsquery() and
combines the pieces with tsquery_and / tsquery_or / tsquery_not. Both drop the same English stop
words, so both find the same accounts in the same data; they part only at the edges of language
(FTS5 stems with Porter, PostgreSQL with Snowball; PostgreSQL reads an e-mail address or a URL as
one word and lets a phrase skip stop words).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import reduce
from typing import Protocol
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape
from sqlalchemy import (
    CTE,
    Float,
    FromClause,
    Integer,
    Select,
    Text,
    any_,
    case,
    cast,
    column,
    distinct,
    exists,
    extract,
    false,
    func,
    literal,
    literal_column,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.elements import ColumnElement

from betas.audit import Actor, record
from betas.auth.permissions import require_edit
from betas.db import UTCDateTime, utcnow
from betas.errors import Conflict, Invalid
from betas.lifecycle import check_open
from betas.models import Beta
from cohorts.memberships import Enrollment, enroll
from cohorts.models import (
    Account,
    Cohort,
    CohortKind,
    Conversation,
    ConversationPart,
    ConversationTag,
    Membership,
    ProblemSearch,
)
from cohorts.roster import other_running_betas
from cohorts.waves import create_cohort, get_cohort, list_cohorts

MAX_QUERY_CHARS = 500
MAX_TERMS = 32
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
# Private-use characters mark the highlights that the database returns: they survive escaping
# untouched and never appear in ordinary text, so the markers can become <mark> afterwards.
START, STOP = "\ue000", "\ue001"
# Dates beyond these cannot bound a real conversation, and converting them between zones overflows.
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(2999, 12, 31)

# PostgreSQL's English stop words (tsearch_data/english.stop). PostgreSQL leaves them out of its
# index and queries; leaving them out of queries on SQLite too makes both find the same accounts.
STOP_WORDS = frozenset(
    """i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom this
    that these those am is are was were be been being have has had having do does did doing a an
    the and but if or because as until while of at by for with about against between into through
    during before after above below to from up down in out on off over under again further then
    once here there when where why how all any both each few more most other some such no nor not
    only own same so than too very s t can will just don should now""".split()
)

_TOKEN = re.compile(r'(?P<exclude>-+)?(?:"(?P<phrase>[^"]*)"?|(?P<word>[^\s"]+))')
_WORD = re.compile(r"[^\W_]+")
# Control characters, lone surrogates (JSON can carry them) and the highlight markers: none is
# searchable, and some would break the database driver.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ue000-\ue002]")
_OR = frozenset({"OR", "|"})
_MARKED = re.compile(f"{START}([^{START}{STOP}]*){STOP}")


class InvalidQuery(Invalid):
    """A search the finder cannot run: nothing to look for, too long, or impossible filters."""

    code = "invalid_query"
    status = 400


# The query language


@dataclass(frozen=True)
class Phrase:
    """Words that must appear together, in this order (a single word is a phrase of one)."""

    words: tuple[str, ...]

    def __str__(self) -> str:
        text = " ".join(self.words)
        return text if len(self.words) == 1 else f'"{text}"'


@dataclass(frozen=True)
class Query:
    """A parsed search: every group must match (any phrase of it), no excluded phrase may."""

    groups: tuple[tuple[Phrase, ...], ...]
    excluded: tuple[Phrase, ...] = ()

    def __str__(self) -> str:
        parts = [" OR ".join(map(str, group)) for group in self.groups]
        return " ".join(parts + [f"-{phrase}" for phrase in self.excluded])

    @property
    def words(self) -> list[str]:
        """Return the words of the wanted phrases, to highlight them."""
        return [word for group in self.groups for phrase in group for word in phrase.words]


def clean_text(text: str) -> str:
    """Return the text without characters no search can use, its spaces collapsed."""
    return " ".join(_UNSAFE.sub(" ", unicodedata.normalize("NFC", text)).split())


def _folded(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _phrase(raw: str) -> Phrase | None:
    # Punctuation separates words, as the indexes do: "e-mail" is the phrase "e mail".
    words = tuple(w.lower() for w in _WORD.findall(raw))
    if all(_folded(w) in STOP_WORDS for w in words):
        return None
    return Phrase(words)


def parse_query(text: str) -> Query:
    """Parse web-search syntax into a Query; refuse text with nothing to look for, or too long."""
    text = clean_text(text or "")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidQuery(
            f"Searches are at most {MAX_QUERY_CHARS} characters; this one has {len(text)}. "
            "Keep the words that matter most.",
            [{"field": "query", "message": f"At most {MAX_QUERY_CHARS} characters."}],
        )
    groups: list[list[Phrase]] = []
    excluded: list[Phrase] = []
    after_term = join_next = False
    for token in _TOKEN.finditer(text):
        if token["word"] in _OR and not token["exclude"]:
            # OR joins the term before it to the one after; anywhere else it means nothing.
            join_next = after_term
            continue
        phrase = _phrase(token["word"] if token["phrase"] is None else token["phrase"])
        if phrase is None:
            continue
        if token["exclude"]:
            excluded.append(phrase)
        elif join_next:
            groups[-1].append(phrase)
        else:
            groups.append([phrase])
        after_term = not token["exclude"]
        join_next = False
    unique_groups = tuple(dict.fromkeys(tuple(dict.fromkeys(g)) for g in groups))
    if not unique_groups:
        raise InvalidQuery(
            "Add at least one word to search for. Very common words (the, can, to) and "
            "-excluded words do not count on their own.",
            [{"field": "query", "message": "Add at least one word to search for."}],
        )
    query = Query(unique_groups, tuple(dict.fromkeys(excluded)))
    terms = sum(map(len, query.groups)) + len(query.excluded)
    if terms > MAX_TERMS:
        raise InvalidQuery(
            f"Use at most {MAX_TERMS} words and phrases; this search has {terms}.",
            [{"field": "query", "message": f"At most {MAX_TERMS} words and phrases."}],
        )
    return query


def fts5_match(queries: Sequence[Query]) -> str:
    """Return an FTS5 MATCH expression for any of the queries: quoted strings, our operators."""

    def string(phrase: Phrase) -> str:
        return '"' + " ".join(phrase.words).replace('"', '""') + '"'

    def any_of(phrases: Iterable[Phrase]) -> str:
        return "(" + " OR ".join(map(string, phrases)) + ")"

    def one(query: Query) -> str:
        wanted = "(" + " AND ".join(map(any_of, query.groups)) + ")"
        return f"({wanted} NOT {any_of(query.excluded)})" if query.excluded else wanted

    return " OR ".join(map(one, queries))


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


_parts = ConversationPart.__table__
_conversations = Conversation.__table__
# One row per customer-written part, kept by triggers (migration 0005): what ranking reads of a
# matching part, without touching the wide parts table. `vector` exists on PostgreSQL only.
_entries = table(
    "part_search_entries",
    column("part_id", Integer),
    column("conversation_id", Integer),
    column("account_id", Integer),
    column("created_at", UTCDateTime),
    column("vector", TSVECTOR),
)


@dataclass(frozen=True)
class _Scan:
    """One pass over the search index, as a statement reads it.

    `source` is the index with the entries of the parts it finds (`entries`, aliased per pass so
    one statement can hold two passes); `matches` drives the pass; `quality` rates a matching
    part between 0 and 1, and is valid in this pass only.
    """

    source: FromClause
    entries: FromClause
    matches: ColumnElement[bool]
    quality: ColumnElement[float]


class _Backend(Protocol):
    """How one database finds customer parts matching queries, rates them and quotes them."""

    def scan(self, queries: Sequence[Query], session: Session | None = None) -> _Scan:
        """Return a pass over the customer parts matching any of the queries.

        Given a session, the backend may prepare the pass with a statement of its own.
        """
        ...

    def age_in_days(self, then: ColumnElement, now: datetime) -> ColumnElement[float]:
        """Return the days from `then` to `now`, or 0 when `then` is later."""
        ...

    def prepare(self, session: Session) -> None:
        """Set the transaction up for ranking many matching parts."""
        ...

    def marked_snippets(
        self, session: Session, query: Query, part_ids: Collection[int]
    ) -> dict[int, str]:
        """Return a short passage of each part, the matches between START and STOP markers."""
        ...


class _Sqlite:
    """FTS5: the external-content table part_search holds customer parts only."""

    # The hidden column named after the table takes a whole FTS5 expression.
    index = table(
        "part_search", column("rowid", Integer), column("rank", Float), column("part_search")
    )
    snippet_tokens = 32

    def _match(self, index: FromClause, queries: Sequence[Query]) -> ColumnElement[bool]:
        # The FTS5 expression goes as one bound value.
        return index.c.part_search.bool_op("MATCH")(literal(fts5_match(queries), Text))

    def scan(self, queries: Sequence[Query], session: Session | None = None) -> _Scan:
        """Match the index and join each part found to its entry, by rowid.

        Quality comes from bm25 (FTS5's `rank`, negative, better when lower), squeezed into 0..1.
        `rank` works only in the pass that MATCH drives: a reference that looked parts up by
        rowid would make FTS5 run the whole MATCH per row.
        """
        index = self.index.alias()
        entries = _entries.alias()
        relevance = -index.c.rank
        return _Scan(
            source=index.join(entries, entries.c.part_id == index.c.rowid),
            entries=entries,
            matches=self._match(index, queries),
            quality=relevance / (1.0 + relevance),
        )

    def age_in_days(self, then: ColumnElement, now: datetime) -> ColumnElement[float]:
        """Subtract Julian days (SQLite's two-argument max() is the larger of the two)."""
        return func.max(0.0, func.julianday(literal(now, UTCDateTime)) - func.julianday(then))

    def prepare(self, session: Session) -> None:
        """Leave the connection as it is: SQLite sizes its sorts itself."""

    def marked_snippets(
        self, session: Session, query: Query, part_ids: Collection[int]
    ) -> dict[int, str]:
        """Quote with FTS5's snippet(), which needs the same MATCH in the same statement."""
        snippet = func.snippet(
            literal_column("part_search"), 0, START, STOP, "…", self.snippet_tokens
        )
        rows = session.execute(
            select(self.index.c.rowid, snippet).where(
                self._match(self.index, [query]), self.index.c.rowid.in_(part_ids)
            )
        )
        return dict(rows.all())


class _Postgres:
    """The entries hold each customer part's tsvector, with a GIN index."""

    english = literal_column("'english'::regconfig")
    simple = literal_column("'simple'::regconfig")
    # ts_headline drops anything that looks like an HTML tag; hiding "<" keeps the text whole.
    hidden_lt = "\ue002"
    short_body = 160
    work_mem = "64MB"
    whole = f'StartSel="{START}", StopSel="{STOP}", HighlightAll=true'
    passage = f'StartSel="{START}", StopSel="{STOP}", MaxWords=32, MinWords=16, MaxFragments=1'

    def _phrase(self, phrase: Phrase) -> ColumnElement:
        text = literal(" ".join(phrase.words), Text)
        return func.phraseto_tsquery(self.english, func.shipcall_unaccent(text))

    def _any_of(self, phrases: Iterable[Phrase]) -> ColumnElement:
        return reduce(func.tsquery_or, map(self._phrase, phrases))

    def tsquery(self, query: Query) -> ColumnElement:
        """Build the tsquery from bound words: (any of each group) AND NOT (any excluded)."""
        wanted = reduce(func.tsquery_and, map(self._any_of, query.groups))
        if query.excluded:
            return func.tsquery_and(wanted, func.tsquery_not(self._any_of(query.excluded)))
        return wanted

    def scan(self, queries: Sequence[Query], session: Session | None = None) -> _Scan:
        """Match the entries' tsvector through its GIN index; rate with ts_rank, normalised (32).

        Given a session, the tsquery is built first and bound as a constant, which parallel
        workers can use: a pass joined to a million accounts then runs in all of them.
        """
        entries = _entries.alias()
        built = reduce(func.tsquery_or, map(self.tsquery, queries))
        if session is None:
            # A subquery runs once: inline, the tsquery would be built again for every row rated.
            tsquery = select(built).scalar_subquery()
        else:
            tsquery = cast(literal(session.scalar(select(cast(built, Text))), Text), TSQUERY)
        return _Scan(
            source=entries,
            entries=entries,
            matches=entries.c.vector.bool_op("@@")(tsquery),
            quality=func.ts_rank(entries.c.vector, tsquery, 32),
        )

    def age_in_days(self, then: ColumnElement, now: datetime) -> ColumnElement[float]:
        """Subtract timestamps and count the seconds in days."""
        return func.greatest(0.0, extract("epoch", literal(now, UTCDateTime) - then) / 86400.0)

    def prepare(self, session: Session) -> None:
        """Let this transaction sort and hash 100,000 matching parts in memory.

        With the default 4 MB, ranking that many parts spills to temporary files and takes
        nearly twice as long. The setting is local: it ends with the transaction.
        """
        session.execute(select(func.set_config("work_mem", self.work_mem, True)))

    def marked_snippets(
        self, session: Session, query: Query, part_ids: Collection[int]
    ) -> dict[int, str]:
        """Quote with ts_headline: short messages whole, longer ones around the best match.

        The index unaccents before stemming but ts_headline cannot, so a search for "cafe" would
        leave "Café" unmarked: the message's own accented words that unaccent to a searched word
        are added to the highlighting query.
        """
        words = literal(" ".join(query.words), Text)
        wanted = func.tsvector_to_array(
            func.to_tsvector(self.english, func.shipcall_unaccent(words))
        )
        lexemes = (
            func.unnest(func.to_tsvector(self.english, _parts.c.body))
            .table_valued("lexeme", "positions", "weights")
            .alias("lexemes")
        )
        folded = func.shipcall_unaccent(lexemes.c.lexeme)
        accented = (
            select(
                func.websearch_to_tsquery(self.simple, func.string_agg(lexemes.c.lexeme, " or "))
            )
            .where(folded != lexemes.c.lexeme, folded == any_(wanted))
            .scalar_subquery()
        )
        highlighted = self.tsquery(query)
        headline = func.ts_headline(
            self.english,
            func.replace(_parts.c.body, "<", self.hidden_lt),
            func.tsquery_or(highlighted, func.coalesce(accented, highlighted)),
            case((func.length(_parts.c.body) <= self.short_body, self.whole), else_=self.passage),
        )
        rows = session.execute(
            select(_parts.c.id, _parts.c.body, headline).where(_parts.c.id.in_(part_ids))
        )
        return {
            part_id: _with_ellipses(marked.replace(self.hidden_lt, "<"), body)
            for part_id, body, marked in rows
        }


def _with_ellipses(marked: str, body: str) -> str:
    """Mark a passage cut from the middle of the text with … where it was cut."""
    passage = marked.replace(START, "").replace(STOP, "")
    at = body.find(passage)
    if at < 0:
        return marked
    return ("…" if at > 0 else "") + marked + ("…" if at + len(passage) < len(body) else "")


_BACKENDS: dict[str, _Backend] = {"sqlite": _Sqlite(), "postgresql": _Postgres()}


def _backend(session: Session) -> _Backend:
    return _BACKENDS[session.get_bind().dialect.name]


def _within(scan: _Scan, filters: _Filters) -> list[ColumnElement[bool]]:
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
    """A matching message: its conversation, when it was written, and the quote, highlighted."""

    conversation: str
    at: datetime
    snippet: Markup

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
    backend = _backend(session)
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
            Evidence(row.conversation, row.part_at, highlight(snippets.get(row.part_id, "")))
        )
    found = list(matches.values())
    _add_memberships(session, beta, found)
    return SearchResult(query, rows[0].total_accounts, rows[0].total_parts, found)


def _counted(backend: _Backend, query: Query, filters: _Filters) -> CTE:
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


def _matched(backend: _Backend, query: Query, filters: _Filters, accounts: Select) -> CTE:
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
    backend: _Backend, query: Query, filters: _Filters, limit: int, now: datetime
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


# Enrolling the accounts found


def _free_slug(session: Session, beta: Beta, name: str) -> str:
    base = "-".join(re.findall(r"[a-z0-9]+", _folded(name)))[:56].strip("-") or "early-adopters"
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


# Problem searches


def list_problem_searches(session: Session, beta: Beta) -> list[ProblemSearch]:
    """Return a beta's saved problem searches, oldest first."""
    return list(
        session.scalars(
            select(ProblemSearch)
            .where(ProblemSearch.beta_id == beta.id)
            .order_by(ProblemSearch.created_at, ProblemSearch.id)
        )
    )


def save_problem_search(session: Session, actor: Actor, beta: Beta, text: str) -> ProblemSearch:
    """Save a query on the beta as a problem search: who matches it had the problem already.

    Refused when the user may not change the beta, the query has nothing to search for, or the
    beta has a search that means the same (Conflict, whatever the spacing or case).
    """
    require_edit(actor.user, beta)
    text = clean_text(text or "")
    query = parse_query(text)
    for saved in list_problem_searches(session, beta):
        if str(parse_query(saved.query)) == str(query):
            raise Conflict(
                f"Beta {beta.key} has this problem search already: {saved.query!r}.",
                [{"field": "query", "message": "Saved already."}],
            )
    problem_search = ProblemSearch(beta_id=beta.id, query=text, created_by=actor.user)
    try:
        with session.begin_nested():
            session.add(problem_search)
    except IntegrityError as exc:
        # Someone saved the same text between our check and our write.
        raise Conflict(f"Beta {beta.key} has this problem search already: {text!r}.") from exc
    record(session, actor, "problem_search.saved", problem_search, beta=beta, query=text)
    return problem_search


def matching_account_ids(session: Session, beta: Beta) -> Select:
    """Return a SELECT of the ids of accounts matching any of the beta's problem searches.

    Samples of accounts that never asked leave these out. Without saved searches it selects none.
    """
    queries = [parse_query(s.query) for s in list_problem_searches(session, beta)]
    if not queries:
        return select(Account.id).where(false())
    scan = _backend(session).scan(queries, session)
    return select(scan.entries.c.account_id).select_from(scan.source).where(scan.matches).distinct()
