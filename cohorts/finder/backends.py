"""How each database finds, rates and quotes customer parts matching queries: SQLite, PostgreSQL.

A backend scans the search index for the customer-written parts that match, rates each match,
counts a match's age in days, and quotes the parts found with the matches between START and STOP
markers. SQLite quotes every term as an FTS5 string and writes the AND / OR / NOT itself;
PostgreSQL passes every term as a bound value to phraseto_tsquery() and combines the pieces with
tsquery_and / tsquery_or / tsquery_not. They part only at the edges of language (FTS5 stems with
Porter, PostgreSQL with Snowball; PostgreSQL reads an e-mail address or a URL as one word and lets
a phrase skip stop words).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from typing import Protocol

from sqlalchemy import (
    Float,
    FromClause,
    Integer,
    Text,
    any_,
    case,
    cast,
    column,
    exists,
    extract,
    func,
    literal,
    literal_column,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from betas.db import UTCDateTime
from cohorts.finder.query import Phrase, Query, fts5_match
from cohorts.models import ConversationPart

# Private-use characters mark the highlights that the database returns: they survive escaping
# untouched and never appear in ordinary text, so the markers can become <mark> afterwards.
START, STOP = "\ue000", "\ue001"

_parts = ConversationPart.__table__
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
class Scan:
    """One pass over the search index, as a statement reads it.

    `source` is the index with the entries of the parts it finds (`entries`, aliased per pass so
    one statement can hold two passes); `matches` drives the pass; `quality` rates a matching
    part between 0 and 1, and is valid in this pass only.
    """

    source: FromClause
    entries: FromClause
    matches: ColumnElement[bool]
    quality: ColumnElement[float]


class Backend(Protocol):
    """How one database finds customer parts matching queries, rates them and quotes them."""

    def scan(self, queries: Sequence[Query], session: Session | None = None) -> Scan:
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

    def marked_bodies(
        self, session: Session, query: Query, part_ids: Collection[int]
    ) -> dict[int, str]:
        """Return the whole text of each part that matches, the matches between the markers."""
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

    def scan(self, queries: Sequence[Query], session: Session | None = None) -> Scan:
        """Match the index and join each part found to its entry, by rowid.

        Quality comes from bm25 (FTS5's `rank`, negative, better when lower), squeezed into 0..1.
        `rank` works only in the pass that MATCH drives: a reference that looked parts up by
        rowid would make FTS5 run the whole MATCH per row.
        """
        index = self.index.alias()
        entries = _entries.alias()
        relevance = -index.c.rank
        return Scan(
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

    def marked_bodies(
        self, session: Session, query: Query, part_ids: Collection[int]
    ) -> dict[int, str]:
        """Mark with FTS5's highlight(): the index's own tokenizer and stemmer say what matched."""
        marked = func.highlight(literal_column("part_search"), 0, START, STOP)
        rows = session.execute(
            select(self.index.c.rowid, marked).where(
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

    def scan(self, queries: Sequence[Query], session: Session | None = None) -> Scan:
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
        return Scan(
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

    def _marking(self, query: Query) -> ColumnElement:
        """Return the tsquery that marks a part's matches, for a statement over the parts.

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
        return func.tsquery_or(highlighted, func.coalesce(accented, highlighted))

    def marked_snippets(
        self, session: Session, query: Query, part_ids: Collection[int]
    ) -> dict[int, str]:
        """Quote with ts_headline: short messages whole, longer ones around the best match."""
        headline = func.ts_headline(
            self.english,
            func.replace(_parts.c.body, "<", self.hidden_lt),
            self._marking(query),
            case((func.length(_parts.c.body) <= self.short_body, self.whole), else_=self.passage),
        )
        rows = session.execute(
            select(_parts.c.id, _parts.c.body, headline).where(_parts.c.id.in_(part_ids))
        )
        return {
            part_id: _with_ellipses(marked.replace(self.hidden_lt, "<"), body)
            for part_id, body, marked in rows
        }

    def marked_bodies(
        self, session: Session, query: Query, part_ids: Collection[int]
    ) -> dict[int, str]:
        """Mark with ts_headline over the whole text, stemmed by the index's own configuration."""
        headline = func.ts_headline(
            self.english,
            func.replace(_parts.c.body, "<", self.hidden_lt),
            self._marking(query),
            self.whole,
        )
        entries = _entries.alias()
        matches = exists().where(
            entries.c.part_id == _parts.c.id,
            entries.c.vector.bool_op("@@")(self.tsquery(query)),
        )
        rows = session.execute(
            select(_parts.c.id, headline).where(_parts.c.id.in_(part_ids), matches)
        )
        return {part_id: marked.replace(self.hidden_lt, "<") for part_id, marked in rows}


def _with_ellipses(marked: str, body: str) -> str:
    """Mark a passage cut from the middle of the text with … where it was cut."""
    passage = marked.replace(START, "").replace(STOP, "")
    at = body.find(passage)
    if at < 0:
        return marked
    return ("…" if at > 0 else "") + marked + ("…" if at + len(passage) < len(body) else "")


_BACKENDS: dict[str, Backend] = {"sqlite": _Sqlite(), "postgresql": _Postgres()}


def backend_for(session: Session) -> Backend:
    """Return the backend of the session's database."""
    return _BACKENDS[session.get_bind().dialect.name]
