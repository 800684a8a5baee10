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

The modules: `query` parses the query language, `backends` runs it on SQLite or PostgreSQL,
`ranking` searches and ranks the accounts, `enrolling` enrolls the accounts found in a cohort,
`problem_searches` keeps the searches saved on a beta, and `conversations` opens the conversation
a piece of evidence comes from, the search marked in it. This package exports what the rest of
Shipcall uses.
"""

from cohorts.finder.conversations import ShownConversation, open_conversation
from cohorts.finder.enrolling import enroll_adopters
from cohorts.finder.problem_searches import (
    list_problem_searches,
    matching_account_ids,
    save_problem_search,
    saved_as,
)
from cohorts.finder.query import InvalidQuery, clean_text, fts5_match, parse_query
from cohorts.finder.ranking import MAX_LIMIT, Criteria, search

__all__ = [
    "MAX_LIMIT",
    "Criteria",
    "InvalidQuery",
    "ShownConversation",
    "clean_text",
    "enroll_adopters",
    "fts5_match",
    "list_problem_searches",
    "matching_account_ids",
    "open_conversation",
    "parse_query",
    "save_problem_search",
    "saved_as",
    "search",
]
