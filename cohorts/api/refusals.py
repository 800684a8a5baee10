"""Refusals that several routes of the cohorts API document."""

from __future__ import annotations

from betas.apidoc import Refusal
from betas.errors import BetaNotRunning, BetaOverdue, NotFound
from cohorts import finder

NO_COHORT = Refusal.of(NotFound, "No beta has this key, or it has no cohort with this slug.")
NOT_RUNNING = Refusal.of(
    BetaNotRunning, "The beta is a draft or decided: accounts join a beta only while it runs."
)
OVERDUE = Refusal.of(
    BetaOverdue, "The beta passed its decision deadline: decide, or extend the deadline, first."
)
BAD_QUERY = Refusal.of(
    finder.InvalidQuery,
    "The query has no word to search for, or too many, or is too long; or the dates or tags "
    "cannot be searched.",
)
