"""Problem searches: queries saved on a beta, matched by the accounts that had the problem already.

Samples of accounts that never asked leave out the accounts matching any of a beta's searches.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, false, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from betas.audit import Actor, record
from betas.auth.permissions import require_edit
from betas.errors import Conflict
from betas.models import Beta
from cohorts.finder.backends import backend_for
from cohorts.finder.query import Query, clean_text, parse_query
from cohorts.models import Account, ProblemSearch


def list_problem_searches(session: Session, beta: Beta) -> list[ProblemSearch]:
    """Return a beta's saved problem searches, oldest first."""
    return list(
        session.scalars(
            select(ProblemSearch)
            .where(ProblemSearch.beta_id == beta.id)
            .order_by(ProblemSearch.created_at, ProblemSearch.id)
        )
    )


def saved_as(searches: Iterable[ProblemSearch], query: Query) -> ProblemSearch | None:
    """Return the saved search that means the same as `query`, whatever its spacing or case."""
    wanted = str(query)
    return next((s for s in searches if str(parse_query(s.query)) == wanted), None)


def save_problem_search(session: Session, actor: Actor, beta: Beta, text: str) -> ProblemSearch:
    """Save a query on the beta as a problem search: who matches it had the problem already.

    Refused when the user may not change the beta, the query has nothing to search for, or the
    beta has a search that means the same (Conflict, whatever the spacing or case).
    """
    require_edit(actor.user, beta)
    text = clean_text(text or "")
    saved = saved_as(list_problem_searches(session, beta), parse_query(text))
    if saved is not None:
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
    scan = backend_for(session).scan(queries, session)
    return select(scan.entries.c.account_id).select_from(scan.source).where(scan.matches).distinct()
