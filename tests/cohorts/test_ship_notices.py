"""After a ship, the accounts told that it shipped: once each, only after a ship."""

from datetime import date

import pytest

from betas import decisions
from betas.audit import Actor
from betas.errors import Conflict, Forbidden, Invalid
from betas.models import Role
from cohorts import ship_notices

ANSWERS = {"solved": "Yes.", "replaces_existing": "No.", "marketing": "No."}


def decide(db, beta, outcome):
    decisions.decide(
        db,
        Actor(beta.owner),
        beta,
        outcome=outcome,
        rationale="Done.",
        answers=ANSWERS,
        snapshot={},
        today=date.today(),
    )


def test_accounts_are_told_once_each(db, running_beta, make_account):
    beta = running_beta()
    decide(db, beta, "ship")
    make_account("acme"), make_account("globex")
    assert ship_notices.mark_told(db, Actor(beta.owner), beta, ["acme", "acme"]) == 1
    assert ship_notices.mark_told(db, Actor(beta.owner), beta, ["acme", "globex"]) == 1
    assert len(ship_notices.told(db, beta)) == 2


def test_telling_needs_a_ship_its_owner_and_a_choice(db, running_beta, make_account, make_user):
    declined, shipped = running_beta(), running_beta()
    decide(db, declined, "no_ship")
    decide(db, shipped, "ship")
    make_account("acme")
    with pytest.raises(Conflict):
        ship_notices.mark_told(db, Actor(declined.owner), declined, ["acme"])
    with pytest.raises(Forbidden):
        ship_notices.mark_told(db, Actor(make_user(Role.PM)), shipped, ["acme"])
    with pytest.raises(Invalid):
        ship_notices.mark_told(db, Actor(shipped.owner), shipped, [])
