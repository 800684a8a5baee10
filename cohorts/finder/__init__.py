"""The early-adopter finder: which accounts asked for a feature, in their own words, and proof."""

from cohorts.finder.ranking import (
    MAX_LIMIT,
    Criteria,
    InvalidQuery,
    clean_text,
    enroll_adopters,
    fts5_match,
    list_problem_searches,
    matching_account_ids,
    parse_query,
    save_problem_search,
    search,
)

__all__ = [
    "MAX_LIMIT",
    "Criteria",
    "InvalidQuery",
    "clean_text",
    "enroll_adopters",
    "fts5_match",
    "list_problem_searches",
    "matching_account_ids",
    "parse_query",
    "save_problem_search",
    "search",
]
