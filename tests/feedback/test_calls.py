"""Calls: planning one with a member, preparing for it, logging what was said on it."""

from datetime import UTC, datetime, timedelta

import pytest

from betas.audit import Actor, beta_history, describe
from betas.errors import Conflict, Forbidden, Invalid
from betas.models import BetaState, Role
from feedback import calls, log
from feedback.models import Source
from tests.feedback.helpers import TYPES

WHEN = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


def plan(db, used, actor=None, account="acme", **values):
    return calls.create_call(
        db,
        Actor(actor or used.beta.owner),
        used.beta,
        account=account,
        held_at=values.pop("held_at", WHEN),
        **values,
    )


def test_the_owner_plans_a_call_with_teammates_and_questions(db, used, make_user):
    engineer, designer = make_user(Role.VIEWER), make_user(Role.VIEWER)
    call = plan(
        db,
        used,
        attendees=[engineer.id, designer.id],
        guests="Dana (Acme's ops lead)",
        questions="  Why weekly?  ",
    )
    assert (call.account.external_id, call.held_at, call.created_by) == (
        "acme",
        WHEN,
        used.beta.owner,
    )
    assert set(call.attendees) == {engineer, designer}
    assert (call.guests, call.questions, call.notes) == (
        "Dana (Acme's ops lead)",
        "Why weekly?",
        "",
    )
    entry = beta_history(db, used.beta).entries[0]
    assert describe(entry).startswith(
        f"{used.beta.owner.display_name} planned call {call.id} with acme"
    )


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"account": "nobody"}, "account"),
        ({"account": "Acme Ltd", "held_at": None}, "held_at"),
        ({"held_at": datetime(2026, 12, 3, 15)}, "held_at"),
        ({"attendees": [999_999]}, "attendees"),
        ({"questions": "?" * 10_001}, "questions"),
        ({"guests": "\x00"}, "guests"),
    ],
)
def test_a_bad_call_is_refused_and_writes_nothing(db, used, unchanged, values, field):
    with unchanged(), pytest.raises(Invalid) as refused:
        plan(db, used, **values)
    assert refused.value.details[0]["field"] == field


def test_an_account_outside_the_beta_gets_no_call(db, used, make_account, unchanged):
    make_account("umbrella")
    with unchanged(), pytest.raises(Invalid, match="umbrella is not in this beta"):
        plan(db, used, account="umbrella")


def test_only_the_owner_or_an_admin_plans_a_call_and_not_on_a_draft(db, used, make_user, unchanged):
    viewer = make_user(Role.VIEWER)
    with unchanged(), pytest.raises(Forbidden):
        plan(db, used, actor=viewer)
    used.beta.state = BetaState.DRAFT
    with unchanged(), pytest.raises(Conflict):
        plan(db, used)


def test_attendees_write_the_notes_and_others_may_not(db, used, make_user, unchanged):
    engineer, stranger = make_user(Role.VIEWER), make_user(Role.PM)
    call = plan(db, used, attendees=[engineer.id])
    calls.change_call(db, Actor(engineer), call, {"notes": "They export every Monday."})
    assert call.notes == "They export every Monday."
    assert "notes" in describe(beta_history(db, used.beta).entries[0])
    with unchanged(), pytest.raises(Forbidden):
        calls.change_call(db, Actor(stranger), call, {"notes": "Mine."})
    with unchanged(), pytest.raises(Invalid):
        calls.change_call(db, Actor(engineer), call, {"account": "globex"})


def test_a_change_that_changes_nothing_writes_nothing(db, used, unchanged):
    call = plan(db, used, questions="Why?")
    with unchanged():
        calls.change_call(db, Actor(used.beta.owner), call, {"questions": "Why?", "held_at": WHEN})


def test_what_is_said_on_a_call_is_logged_with_its_call_and_source(db, used, make_user):
    call = plan(db, used)
    viewer = make_user(Role.VIEWER)
    item = calls.log_from_call(
        db, Actor(viewer), call, original="  Export is gone?  ", types=TYPES, type="question"
    )
    assert (item.call, item.source, item.account.external_id) == (call, Source.CALL, "acme")
    assert item.original == "  Export is gone?  " and item.logged_by == viewer
    assert call.items == [item]


def test_the_log_refuses_a_call_of_another_account_or_source(db, used, unchanged):
    call = plan(db, used)
    actor = Actor(used.beta.owner)
    with unchanged(), pytest.raises(Invalid) as other_account:
        log.log(db, actor, used.beta, account="globex", original="Hi", types=TYPES, call=call.id)
    assert other_account.value.details[0]["field"] == "call"
    with unchanged(), pytest.raises(Invalid) as elsewhere:
        log.log(db, actor, used.other, account="acme", original="Hi", types=TYPES, call=call.id)
    assert elsewhere.value.details[0]["field"] == "call"
    with unchanged(), pytest.raises(Invalid) as source:
        log.log(
            db,
            actor,
            used.beta,
            account="acme",
            original="Hi",
            types=TYPES,
            call=call.id,
            source="email",
        )
    assert source.value.details[0]["field"] == "source"


def test_the_preparation_says_why_it_is_in_what_it_did_said_and_was_in(
    db, used, running_beta, make_cohort
):
    actor = Actor(used.beta.owner)
    earlier = log.log(db, actor, used.beta, account="acme", original="Before.", types=TYPES)
    call = plan(db, used, account="hooli")
    hooli_said = calls.log_from_call(db, actor, call, original="On the call.", types=TYPES)
    hooli_before = log.log(db, actor, used.beta, account="hooli", original="Email.", types=TYPES)
    prep = calls.prepare(db, call, used.today)
    assert prep.membership.reason == "Asked for reports." and prep.membership.cohort == used.cohort
    assert prep.activity.event_count == 1
    assert [c.counts for c in prep.activity.metrics] == [True]
    assert prep.said_here == [hooli_said]
    assert prep.earlier == [hooli_before] and earlier not in prep.earlier
    assert [m.beta for m in prep.other_betas] == [used.other]


def test_calls_are_counted_and_listed_in_as_many_statements_whatever_their_number(
    db, used, make_user, count_queries
):
    first = plan(db, used, held_at=WHEN - timedelta(days=3))
    calls.log_from_call(db, Actor(used.beta.owner), first, original="Said.", types=TYPES)
    db.expire_all()
    with count_queries() as one:
        rows = calls.list_calls(db, used.beta)
    assert [(r.call, r.items) for r in rows] == [(first, 1)]
    for n in range(5):
        plan(
            db,
            used,
            account="globex",
            attendees=[make_user(Role.VIEWER).id],
            held_at=WHEN + timedelta(days=n),
        )
    db.expire_all()
    with count_queries() as six:
        rows = calls.list_calls(db, used.beta)
    assert len(rows) == 6 and rows[-1].call == first
    assert six.n == one.n
    assert calls.count_calls(db, used.beta) == 6
    assert calls.count_calls(db, used.beta, held_by=WHEN) == 2
    assert calls.count_calls(db, used.other) == 0
