"""Searching in the finder's tests: the accounts a search finds."""

from __future__ import annotations

from cohorts import finder
from cohorts.finder import Criteria
from tests.cohorts.conversations import NOW


def found(db, beta, query: str, **criteria) -> list[str]:
    """Return the external ids of the accounts a search finds, best first."""
    limit = criteria.pop("limit", 20)
    result = finder.search(db, beta, Criteria(query, **criteria), limit=limit, now=NOW)
    return [m.account for m in result.matches]
