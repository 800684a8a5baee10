"""The feedback service: the context an item keeps, codifying, duplicates, the audit's words."""

from datetime import UTC, datetime

import pytest

from betas.audit import Actor, describe
from betas.errors import Forbidden, Invalid
from betas.models import BetaState, Role
from cohorts.models import Membership, MembershipStatus
from feedback import log
from tests.feedback.helpers import TYPES

LEFT = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def test_an_item_keeps_the_cohort_status_and_most_recent_other_beta_it_was_said_in(
    db, make_beta, make_cohort, beta, acme, pm
):
    for key, name, enrolled, left in (
        ("old", "Old reports", datetime(2026, 1, 1, tzinfo=UTC), None),
        ("recent", "Recent search", datetime(2026, 6, 1, tzinfo=UTC), LEFT),
    ):
        other = make_beta(key=key, name=name, state=BetaState.DECIDED)
        db.add(
            Membership(
                beta=other,
                account=acme,
                cohort=make_cohort(other),
                status=MembershipStatus.OPTED_OUT if left else MembershipStatus.ACTIVE,
                reason="Asked.",
                enrolled_at=enrolled,
                left_at=left,
            )
        )
    db.flush()

    item = log.log(db, Actor(pm), beta, account="acme", original="Hi", types=TYPES)

    assert (item.cohort.slug, item.member_status) == ("early", "active")
    assert (item.previous_beta_name, item.previous_beta_left_at) == ("Recent search", LEFT)


def test_an_account_outside_the_beta_keeps_no_cohort(db, beta, make_account, pm):
    make_account("stranger", "Stranger Inc")
    item = log.log(db, Actor(pm), beta, account="stranger", original="Hi", types=TYPES)
    assert (item.cohort, item.member_status, item.previous_beta_name) == (None, None, None)


def test_an_item_is_uncodified_until_type_summary_and_reason_are_set(db, beta, acme, pm):
    item = log.log(db, Actor(pm), beta, account="acme", original="Hi", types=TYPES, type="praise")
    assert not item.codified
    log.edit(db, Actor(pm), item, {"summary": "Likes it", "reason": " "}, types=TYPES)
    assert not item.codified and item.reason is None
    log.edit(db, Actor(pm), item, {"reason": "Speed"}, types=TYPES)
    assert item.codified


def test_a_type_the_settings_do_not_list_is_refused(db, beta, acme, pm):
    with pytest.raises(Invalid, match="Choose a type among bug, idea"):
        log.log(
            db, Actor(pm), beta, account="acme", original="Hi", types=("bug", "idea"), type="praise"
        )


def test_a_blocker_that_stops_being_one_loses_its_state(db, beta, acme, pm):
    item = log.log(db, Actor(pm), beta, account="acme", original="No", types=TYPES, type="blocker")
    assert item.blocker_state.value == "open"
    log.edit(db, Actor(pm), item, {"type": "usability"}, types=TYPES)
    assert (item.blocker_state, item.resolution) == (None, None)
    with pytest.raises(Invalid, match="Only a blocker"):
        log.edit(db, Actor(pm), item, {"blocker_state": "resolved"}, types=TYPES)


def test_duplicates_are_kept_and_counted(db, beta, acme, pm):
    first = log.log(db, Actor(pm), beta, account="acme", original="Export?", types=TYPES)
    for _ in range(2):
        log.log(
            db, Actor(pm), beta, account="acme", original="Export?", types=TYPES,
            duplicate_of=first.id,
        )  # fmt: skip
    page = log.feedback_page(db, beta)
    assert len(page.items) == 3
    assert page.repeated_by == {first.id: 2}
    assert log.read_item(db, first.id).repeated_by == 2


def test_only_the_owner_or_an_admin_codifies(db, make_user, beta, acme, pm):
    item = log.log(db, Actor(pm), beta, account="acme", original="Hi", types=TYPES)
    for role in (Role.VIEWER, Role.PM):
        with pytest.raises(Forbidden):
            log.edit(db, Actor(make_user(role)), item, {"type": "praise"}, types=TYPES)
    log.edit(db, Actor(make_user(Role.ADMIN)), item, {"type": "praise"}, types=TYPES)
    assert item.type == "praise"


def test_the_history_reads_as_sentences(db, beta, acme, pm):
    item = log.log(db, Actor(pm), beta, account="acme", original="Hi", types=TYPES, source="call")
    log.edit(db, Actor(pm), item, {"summary": "Greets", "duplicate_of": None}, types=TYPES)
    changed, logged = log.item_history(db, item)
    name = pm.display_name
    assert describe(logged) == f"{name} logged feedback item {item.id} from acme, by call"
    assert describe(changed) == f"{name} set the summary to “Greets” on feedback item {item.id}"
