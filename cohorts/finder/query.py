"""The finder's query language: web-search syntax parsed into phrases, and FTS5 MATCH text.

Words, "quoted phrases", OR between two terms, -excluded terms; English stemming, case and accents
ignored. Nothing the user types reaches a search engine's own syntax: `parse_query` reduces the
text to words made of letters and digits, and each backend builds its query from those words
alone. Both backends drop the same English stop words, so both find the same accounts in the same
data.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from betas.errors import Invalid

MAX_QUERY_CHARS = 500
MAX_TERMS = 32

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


class InvalidQuery(Invalid):
    """A search the finder cannot run: nothing to look for, too long, or impossible filters."""

    code = "invalid_query"
    status = 400


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


def folded(word: str) -> str:
    """Return the word in lower case without its accents, as stop words and slugs compare it."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _phrase(raw: str) -> Phrase | None:
    # Punctuation separates words, as the indexes do: "e-mail" is the phrase "e mail".
    words = tuple(w.lower() for w in _WORD.findall(raw))
    if all(folded(w) in STOP_WORDS for w in words):
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
