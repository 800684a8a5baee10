"""Problem searches: saving them, audited and once each, and the accounts matching them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from betas.audit import Actor
from betas.errors import Conflict, Forbidden
from betas.models import AuditEntry, BetaState, Role
from cohorts import finder
from cohorts.finder import InvalidQuery
from cohorts.models import Account
from tests.cohorts.conversations import converse


def test_saving_a_problem_search_is_audited_and_refuses_the_same_search_twice(
    db, beta, make_user, unchanged
):
    actor = Actor(beta.owner)
    saved = finder.save_problem_search(db, actor, beta, '  export   "csv files" ')
    assert saved.query == 'export "csv files"'
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "problem_search.saved"))
    assert (entry.beta, entry.details) == (beta, {"query": 'export "csv files"'})
    with unchanged(), pytest.raises(Conflict, match="has this problem search already"):
        finder.save_problem_search(db, actor, beta, 'EXPORT "CSV files"')
    with unchanged(), pytest.raises(InvalidQuery):
        finder.save_problem_search(db, actor, beta, "-export")
    viewer = Actor(make_user(Role.VIEWER))
    with unchanged(), pytest.raises(Forbidden):
        finder.save_problem_search(db, viewer, beta, "pdf")


def test_matching_account_ids_selects_accounts_matching_any_saved_search(db, beta, make_beta):
    converse(db, "csv", "export to csv")
    converse(db, "pdf", "print to pdf")
    converse(db, "neither", "hello there")
    converse(db, "teammate", ("teammate", "export to csv is coming"))
    ids = {a.external_id: a.id for a in db.scalars(select(Account))}
    assert db.scalars(finder.matching_account_ids(db, beta)).all() == []
    actor = Actor(beta.owner)
    finder.save_problem_search(db, actor, beta, "csv -pdf")
    finder.save_problem_search(db, actor, beta, '"print to pdf"')
    other = make_beta(state=BetaState.RUNNING)
    finder.save_problem_search(db, Actor(other.owner), other, "hello")
    matching = set(db.scalars(finder.matching_account_ids(db, beta)))
    assert matching == {ids["csv"], ids["pdf"]}
    outside = db.scalars(
        select(Account.external_id).where(Account.id.not_in(finder.matching_account_ids(db, beta)))
    )
    assert sorted(outside) == ["neither", "teammate"]
