"""One conversation as the finder's evidence opens it: every part in order, the search marked.

The search is parsed by the finder's own rules (`parse_query`), and the database that matched it
marks it: FTS5's highlight() on SQLite, ts_headline() on PostgreSQL, each with the stemmer of its
own index. A customer's part is marked wherever it holds any phrase the search looks for (words
left out with a minus are not marked); teammates' and bots' parts are never searched, so never
marked. Every text is escaped; only the marks become HTML.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from betas.errors import NotFound
from cohorts.finder.backends import backend_for
from cohorts.finder.query import InvalidQuery, Query, parse_query
from cohorts.finder.ranking import highlight
from cohorts.models import Author, Conversation


@dataclass(frozen=True)
class ShownPart:
    """A part as the page shows it: who wrote it, when, and its text, escaped and marked."""

    id: int
    author: Author
    at: datetime
    text: Markup
    marked: bool


@dataclass(frozen=True)
class ShownConversation:
    """A conversation with its parts in order, and the search marked in them, if any."""

    conversation: Conversation
    parts: list[ShownPart]
    query: Query | None = None
    unmarked: str = ""


def _any_phrase(query: Query) -> Query:
    """Return a query for any phrase `query` looks for: each is marked wherever it appears."""
    return Query((tuple(dict.fromkeys(p for group in query.groups for p in group)),))


def open_conversation(
    session: Session, external_id: str, search: str | None = None
) -> ShownConversation:
    """Return a conversation, its parts in order, and what customers wrote marked for `search`.

    A search that cannot be run (no word to look for, too long) marks nothing and says why in
    `unmarked`. Raise NotFound for an unknown conversation.
    """
    conversation = session.scalar(
        select(Conversation)
        .where(Conversation.external_id == external_id)
        .options(
            joinedload(Conversation.account),
            selectinload(Conversation.parts),
            selectinload(Conversation.tags),
        )
    )
    if conversation is None:
        raise NotFound(f"No conversation has the id {external_id!r}.")
    query, unmarked, marks = None, "", {}
    if search and search.strip():
        try:
            query = parse_query(search)
        except InvalidQuery as exc:
            unmarked = exc.message
        else:
            customer = [p.id for p in conversation.parts if p.author is Author.CUSTOMER]
            if customer:
                marks = backend_for(session).marked_bodies(session, _any_phrase(query), customer)
    parts = [
        ShownPart(
            id=part.id,
            author=part.author,
            at=part.created_at,
            text=highlight(marks[part.id]) if part.id in marks else escape(part.body),
            marked=part.id in marks,
        )
        for part in sorted(conversation.parts, key=lambda p: (p.created_at, p.id))
    ]
    return ShownConversation(conversation, parts, query, unmarked)
