"""Random samples: the same seed gives the same accounts, the pool's exclusions, waves, strata."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import select

from betas import errors
from betas.audit import Actor
from betas.auth.users import create_user
from betas.db import Database, alembic_config
from betas.errors import Forbidden, Invalid
from betas.models import AuditEntry, Beta, BetaState, Role
from cohorts import attributes, memberships, roster, sample_specs, sampling
from cohorts.models import (
    Account,
    Author,
    Cohort,
    CohortKind,
    Conversation,
    ConversationPart,
    Membership,
    MembershipStatus,
    ProblemSearch,
)
from cohorts.sample_specs import SampleSpec

TODAY = date.today()


def sha1_order(beta_key: str, seed: str, external_ids) -> list[str]:
    """Return the external ids in draw order, computed from the definition, not from Shipcall."""

    def rank(external_id: str) -> str:
        return hashlib.sha1(f"{beta_key}\x1f{seed}\x1f{external_id}".encode()).hexdigest()

    return sorted(external_ids, key=rank)


@pytest.fixture
def sample_beta(running_beta, make_cohort):
    """Return a running beta and its random-sample cohort."""
    beta = running_beta()
    return beta, make_cohort(beta, "random", CohortKind.RANDOM_SAMPLE)


@pytest.fixture
def accounts(make_account):
    """Make `n` accounts acct-1..acct-n with the given attributes; return their external ids."""

    def make(n: int, **attributes) -> list[str]:
        return [make_account(**attributes).external_id for _ in range(n)]

    return make


def draw(db, beta, cohort, spec: SampleSpec, **options) -> sampling.Sample:
    return sampling.draw_sample(db, Actor(beta.owner), beta, cohort, spec, TODAY, **options)


def pool_of(db, beta, cohort, **spec) -> set[str]:
    """Return every account of the pool: a dry-run sample as large as the pool."""
    size = draw(db, beta, cohort, SampleSpec(1, **spec), dry_run=True).pool_size
    return set(draw(db, beta, cohort, SampleSpec(size, **spec), dry_run=True).accounts)


# Reproducible


def test_the_same_seed_draws_the_accounts_with_the_lowest_sha1(db, sample_beta, accounts):
    beta, cohort = sample_beta
    ids = accounts(40)
    first = draw(db, beta, cohort, SampleSpec(7, "s33d"), dry_run=True)
    again = draw(db, beta, cohort, SampleSpec(7, "s33d"), dry_run=True)
    # Computed here from SHA-1 alone: no database, driver or Python random() can change it.
    assert first.accounts == sha1_order(beta.key, "s33d", ids)[:7]
    assert again.accounts == first.accounts
    assert (first.seed, first.pool_size, first.enrolled) == ("s33d", 40, False)


def test_the_database_ranks_accounts_as_the_definition_does(db, sample_beta, make_account):
    beta, cohort = sample_beta
    # Ids beyond ASCII rank by their UTF-8 bytes; with 300 accounts for 3, the database returns
    # only those below a bar at about the lowest twentieth of the ranks.
    ids = [
        make_account(external_id=f"{word}-{n}").external_id
        for n in range(100)
        for word in ("acct", "compte-é", "アカウント")
    ]
    sample = draw(db, beta, cohort, SampleSpec(3, "bar"), dry_run=True)
    assert sample.accounts == sha1_order(beta.key, "bar", ids)[:3]


def test_a_bar_too_low_rises_until_every_stratum_has_its_share(
    db, sample_beta, accounts, monkeypatch
):
    beta, cohort = sample_beta
    by_plan = {"pro": accounts(30, plan="pro"), "free": accounts(20, plan="free")}
    # Below every rank: at first the database finds no account, so it looks again higher.
    monkeypatch.setattr(sampling, "_first_fraction", lambda strata, allocation: 1e-9)
    sample = draw(db, beta, cohort, SampleSpec(5, "low", stratify_by="plan"), dry_run=True)
    expected = sha1_order(beta.key, "low", by_plan["pro"])[:3]
    expected += sha1_order(beta.key, "low", by_plan["free"])[:2]
    assert sample.accounts == sha1_order(beta.key, "low", expected)


def test_a_fixed_beta_key_and_seed_give_a_fixed_sample(db, running_beta, make_cohort, accounts):
    beta = running_beta(key="inbox-reports")
    cohort = make_cohort(beta, "random", CohortKind.RANDOM_SAMPLE)
    accounts(12)
    sample = draw(db, beta, cohort, SampleSpec(3, "wave-2"), dry_run=True)
    # The lowest SHA-1 of "inbox-reports\x1fwave-2\x1facct-N" for N from 1 to 12, written down
    # once: the same on every database, in every Python version, forever.
    assert sample.accounts == ["acct-3", "acct-12", "acct-7"]


def test_a_different_seed_draws_a_different_sample(db, sample_beta, accounts):
    beta, cohort = sample_beta
    ids = accounts(40)
    one = draw(db, beta, cohort, SampleSpec(7, "one"), dry_run=True)
    two = draw(db, beta, cohort, SampleSpec(7, "two"), dry_run=True)
    assert one.accounts != two.accounts
    assert two.accounts == sha1_order(beta.key, "two", ids)[:7]


def test_without_a_seed_a_new_one_is_made_and_returned(db, sample_beta, accounts):
    beta, cohort = sample_beta
    ids = accounts(10)
    sample = draw(db, beta, cohort, SampleSpec(3), dry_run=True)
    assert len(sample.seed) == 16
    assert sample.accounts == sha1_order(beta.key, sample.seed, ids)[:3]
    assert draw(db, beta, cohort, SampleSpec(3), dry_run=True).seed != sample.seed


# The pool


def test_members_of_the_beta_in_any_status_are_never_drawn(
    db, sample_beta, make_cohort, make_account, accounts
):
    beta, cohort = sample_beta
    early = make_cohort(beta, "early")
    free = accounts(3)
    members = {status: make_account() for status in MembershipStatus}
    memberships.enroll(
        db, Actor(beta.owner), beta, early, [a.external_id for a in members.values()], "r", TODAY
    )
    for status, account in members.items():
        db.scalar(select(Membership).where(Membership.account_id == account.id)).status = status
    db.flush()
    assert pool_of(db, beta, cohort) == set(free)


def converse(db, account, author: Author, body: str) -> None:
    conversation = Conversation(
        external_id=f"conv-{account.external_id}-{author.value}",
        account=account,
        started_at=datetime.now(UTC) - timedelta(days=3),
    )
    conversation.parts.append(
        ConversationPart(author=author, body=body, created_at=conversation.started_at)
    )
    db.add(conversation)
    db.flush()


def test_accounts_matching_the_betas_problem_searches_are_left_out(
    db, sample_beta, running_beta, make_account
):
    beta, cohort = sample_beta
    asked, heard, quiet = make_account(), make_account(), make_account()
    converse(db, asked, Author.CUSTOMER, "Could we please export the reports to CSV?")
    # A teammate's words are not the customer asking.
    converse(db, heard, Author.TEAMMATE, "Tip: you can export reports to CSV.")
    assert pool_of(db, beta, cohort) == {a.external_id for a in (asked, heard, quiet)}
    db.add(ProblemSearch(beta_id=beta.id, query="csv export"))
    other = running_beta()
    db.add(ProblemSearch(beta_id=other.id, query="reports"))
    db.flush()
    assert pool_of(db, beta, cohort) == {heard.external_id, quiet.external_id}


def test_members_of_other_running_betas_are_left_out_only_when_asked(
    db, sample_beta, make_beta, make_cohort, make_account
):
    beta, cohort = sample_beta
    busy, invited, quit_, done, free = (make_account() for _ in range(5))
    other = make_beta(state=BetaState.RUNNING)
    other_cohort = make_cohort(other, "early")
    owner = Actor(other.owner)
    memberships.enroll(db, owner, other, other_cohort, [busy.external_id], "r", TODAY)
    memberships.enroll(db, owner, other, other_cohort, [invited.external_id], "r", TODAY)
    memberships.enroll(db, owner, other, other_cohort, [quit_.external_id], "r", TODAY)
    memberships.get_membership(db, other, invited.external_id).status = MembershipStatus.INVITED
    memberships.opt_out(db, owner, other, quit_.external_id)
    decided = make_beta(state=BetaState.RUNNING)
    memberships.enroll(
        db, Actor(decided.owner), decided, make_cohort(decided), [done.external_id], "r", TODAY
    )
    decided.state = BetaState.DECIDED
    db.flush()
    everyone = {a.external_id for a in (busy, invited, quit_, done, free)}
    assert pool_of(db, beta, cohort) == everyone
    assert pool_of(db, beta, cohort, exclude_other_betas=True) == {
        quit_.external_id,
        done.external_id,
        free.external_id,
    }


def test_filters_keep_accounts_with_any_of_the_values(db, sample_beta, make_account):
    beta, cohort = sample_beta
    pro = make_account(plan="pro", region="eu")
    team = make_account(plan="team", region="eu")
    make_account(plan="pro", region="us")
    make_account(plan="free", region="eu")
    make_account(region="eu")
    filters = {"plan": ["pro", "team"], "region": ["eu"]}
    assert pool_of(db, beta, cohort, filters=filters) == {pro.external_id, team.external_id}


def test_numbers_and_booleans_compare_as_written_in_the_json(db, sample_beta, make_account):
    beta, cohort = sample_beta
    twelve = make_account(seats=12, ratio=0.5, trial=True)
    text_twelve = make_account(seats="12")
    make_account(seats=120, ratio=5, trial=False)
    make_account(seats=[12], trial=None)
    assert pool_of(db, beta, cohort, filters={"seats": ["12"]}) == {
        twelve.external_id,
        text_twelve.external_id,
    }
    assert pool_of(db, beta, cohort, filters={"ratio": ["0.5"]}) == {twelve.external_id}
    assert pool_of(db, beta, cohort, filters={"trial": ["true"]}) == {twelve.external_id}


# Waves


def test_growing_a_wave_continues_the_same_order_and_keeps_earlier_draws(db, sample_beta, accounts):
    beta, cohort = sample_beta
    ids = accounts(30)
    order = sha1_order(beta.key, "grow", ids)
    first = draw(db, beta, cohort, SampleSpec(4, "grow"))
    assert first.enrollment.enrolled == order[:4]
    # The cohort keeps its seed: the next draw needs none and continues where the first stopped.
    second = draw(db, beta, cohort, SampleSpec(5))
    assert (second.seed, second.accounts, second.pool_size) == ("grow", order[4:9], 26)
    members = {m.account.external_id for m in roster.members(db, beta, cohort)}
    assert members == set(order[:9])
    assert [d["size"] for d in cohort.criteria["draws"]] == [4, 5]
    assert cohort.criteria["seed"] == "grow"


def test_a_wave_keeps_its_seed(db, sample_beta, accounts, unchanged):
    beta, cohort = sample_beta
    accounts(10)
    draw(db, beta, cohort, SampleSpec(2, "first"))
    with unchanged(), pytest.raises(sampling.SeedFixed, match="drawn with seed first"):
        draw(db, beta, cohort, SampleSpec(2, "other"), dry_run=True)


def test_the_draw_is_recorded_so_it_can_be_explained_and_repeated(db, sample_beta, make_account):
    beta, cohort = sample_beta
    for n in range(6):
        make_account(plan="pro" if n % 2 else "free")
    db.add(ProblemSearch(beta_id=beta.id, query="csv export"))
    spec = SampleSpec(2, "rec", {"plan": ["pro"]}, "plan", exclude_other_betas=True)
    sample = draw(db, beta, cohort, spec)
    [recorded] = cohort.criteria["draws"]
    assert cohort.criteria["algorithm"] == "sha1-lowest-v1"
    assert cohort.criteria["seed"] == "rec"
    assert {k: v for k, v in recorded.items() if k != "drawn_at"} == {
        "size": 2,
        "pool_size": 3,
        "enrolled": 2,
        "filters": {"plan": ["pro"]},
        "stratify_by": "plan",
        "exclusions": {
            "members_of_this_beta": "any status",
            "problem_searches": ["csv export"],
            "other_running_betas": True,
        },
    }
    reasons = {m.reason for m in roster.members(db, beta, cohort)}
    assert reasons == {"random sample (seed rec, pool of 3)"}
    assert sample.enrollment.enrolled == sample.accounts
    audit = db.scalar(select(AuditEntry).where(AuditEntry.action == "cohort.sampled"))
    assert audit.details == {"seed": "rec", "size": 2, "pool_size": 3}


def test_two_draws_at_once_continue_one_order(scratch_database_url):
    command.upgrade(alembic_config(scratch_database_url), "head")
    database = Database(scratch_database_url)
    with database.session() as session:
        owner = create_user(session, "pm@example.com", "x" * 16, Role.PM)
        beta = Beta(
            key="b", name="B", owner=owner, state=BetaState.RUNNING, decision_deadline=TODAY
        )
        session.add(Cohort(beta=beta, slug="random", name="R", kind=CohortKind.RANDOM_SAMPLE))
        session.add_all(Account(external_id=f"acct-{n}") for n in range(20))
        session.commit()

    def draw_five(session) -> sampling.Sample:
        beta = session.scalar(select(Beta))
        cohort = session.scalar(select(Cohort))
        return sampling.draw_sample(session, Actor(beta.owner), beta, cohort, SampleSpec(5), TODAY)

    first = database.session()
    first_sample = draw_five(first)  # enrolled, not yet committed
    second = {}

    def draw_again():
        with database.session() as session:
            second["sample"] = draw_five(session)  # waits for the first draw to finish
            session.commit()

    thread = threading.Thread(target=draw_again)
    thread.start()
    time.sleep(0.5)
    first.commit()
    first.close()
    thread.join(30)
    order = sha1_order("b", first_sample.seed, [f"acct-{n}" for n in range(20)])
    # Without waiting, the second draw would make a seed of its own and draw from the same pool.
    assert second["sample"].seed == first_sample.seed
    assert (first_sample.accounts, second["sample"].accounts) == (order[:5], order[5:10])
    assert second["sample"].enrollment.skipped == []
    database.engine.dispose()


# Strata


@pytest.mark.parametrize(
    ("counts", "size"),
    [
        ({"pro": 47, "team": 31, "free": 22}, 7),
        ({"a": 1, "b": 1, "c": 1}, 2),
        ({"big": 998, None: 1, "small": 1}, 10),
        ({"x": 5, "y": 5}, 10),
        ({"a": 3, "b": 3, "c": 3, "d": 2}, 5),
    ],
)
def test_each_stratum_gets_its_share_within_one_account(counts, size):
    allocation = sampling.allocate(counts, size)
    total = sum(counts.values())
    assert sum(allocation.values()) == size
    for stratum, n in counts.items():
        assert abs(allocation[stratum] - size * n / total) < 1
        assert allocation[stratum] <= n


def test_largest_remainders_get_the_accounts_left_over():
    # Exact shares 3.29, 2.17 and 1.54: free has the largest remainder.
    assert sampling.allocate({"pro": 47, "team": 31, "free": 22}, 7) == {
        "pro": 3,
        "team": 2,
        "free": 2,
    }


def test_a_stratified_sample_draws_the_lowest_ranks_of_each_stratum(db, sample_beta, accounts):
    beta, cohort = sample_beta
    by_plan = {"pro": accounts(47, plan="pro"), "team": accounts(31, plan="team")}
    by_plan["free"] = accounts(22, plan="free")
    sample = draw(db, beta, cohort, SampleSpec(7, "strata", stratify_by="plan"), dry_run=True)
    expected = {"pro": 3, "team": 2, "free": 2}
    drawn = set()
    for plan, ids in by_plan.items():
        drawn |= set(sha1_order(beta.key, "strata", ids)[: expected[plan]])
    assert set(sample.accounts) == drawn
    assert sample.accounts == sha1_order(beta.key, "strata", drawn)


def test_stratifying_by_an_attribute_with_too_many_values_is_refused(
    db, sample_beta, make_account, monkeypatch, unchanged
):
    beta, cohort = sample_beta
    monkeypatch.setattr(sampling, "MAX_STRATA", 3)
    for n in range(4):
        make_account(city=f"city-{n}")
    with unchanged(), pytest.raises(Invalid, match="more than 3 values"):
        draw(db, beta, cohort, SampleSpec(2, stratify_by="city"), dry_run=True)


# The mix


def test_the_mix_compares_the_sample_the_pool_and_the_early_adopters(
    db, sample_beta, make_cohort, make_account, accounts
):
    beta, cohort = sample_beta
    early = make_cohort(beta, "early")
    asked = [make_account(plan="enterprise").external_id for _ in range(3)]
    asked.append(make_account(plan="pro").external_id)
    memberships.enroll(db, Actor(beta.owner), beta, early, asked, "asked", TODAY)
    # Chosen by hand, not an early adopter: in the beta, so out of the pool, and in no column.
    chosen = make_account(plan="team").external_id
    manual = make_cohort(beta, "by-hand", CohortKind.MANUAL)
    memberships.enroll(db, Actor(beta.owner), beta, manual, [chosen], "picked", TODAY)
    accounts(6, plan="free")
    accounts(3, plan="pro")
    accounts(1)
    sample = draw(db, beta, cohort, SampleSpec(10, "mix"), dry_run=True, mix_by="plan")
    mix = sample.mix
    assert [(r.value, r.sample, r.pool, r.early_adopters) for r in mix.rows()] == [
        ("free", 6, 6, 0),
        ("pro", 3, 3, 1),
        (None, 1, 1, 0),
        ("enterprise", 0, 0, 3),
    ]
    assert mix.totals() == sampling.MixRow(None, 10, 10, 4)


# Refusals


def test_a_pool_smaller_than_the_sample_is_refused_with_its_size(
    db, sample_beta, accounts, unchanged
):
    beta, cohort = sample_beta
    accounts(4)
    with unchanged(), pytest.raises(sampling.PoolTooSmall) as refused:
        draw(db, beta, cohort, SampleSpec(5, "small"))
    assert refused.value.status == 409 and refused.value.code == "pool_too_small"
    assert "The pool holds 4 accounts, fewer than the 5 asked for" in refused.value.message
    assert roster.members(db, beta) == []


@pytest.mark.parametrize(
    ("state", "deadline", "refusal"),
    [
        (BetaState.DRAFT, TODAY + timedelta(days=9), errors.BetaNotRunning),
        (BetaState.DECIDED, TODAY + timedelta(days=9), errors.BetaNotRunning),
        (BetaState.RUNNING, TODAY - timedelta(days=1), errors.BetaOverdue),
    ],
)
def test_a_beta_that_does_not_take_accounts_refuses_samples(
    db, make_beta, make_cohort, accounts, state, deadline, refusal, unchanged
):
    beta = make_beta(state=state, deadline=deadline)
    cohort = make_cohort(beta, "random", CohortKind.RANDOM_SAMPLE)
    accounts(3)
    with unchanged(), pytest.raises(refusal):
        draw(db, beta, cohort, SampleSpec(1))
    with unchanged(), pytest.raises(refusal):
        draw(db, beta, cohort, SampleSpec(1), dry_run=True)


def test_only_random_sample_cohorts_take_samples(
    db, running_beta, make_cohort, accounts, unchanged
):
    beta = running_beta()
    accounts(3)
    early = make_cohort(beta, "early", CohortKind.EARLY_ADOPTERS)
    with unchanged(), pytest.raises(sampling.NotRandomSample) as refused:
        draw(db, beta, early, SampleSpec(1))
    assert refused.value.message == (
        "Early is an early-adopter cohort: random samples are drawn into random-sample cohorts. "
        "Draw into one of the beta's random-sample cohorts, or add one."
    )


def test_only_the_owner_or_an_admin_draws(db, sample_beta, make_user, accounts, unchanged):
    beta, cohort = sample_beta
    accounts(3)
    for role in (Role.PM, Role.VIEWER):
        someone = make_user(role)
        with unchanged(), pytest.raises(Forbidden):
            sampling.draw_sample(db, Actor(someone), beta, cohort, SampleSpec(1), TODAY)
        with unchanged(), pytest.raises(Forbidden):
            sampling.draw_sample(
                db, Actor(someone), beta, cohort, SampleSpec(1), TODAY, dry_run=True
            )
    admin = Actor(make_user(Role.ADMIN))
    sample = sampling.draw_sample(db, admin, beta, cohort, SampleSpec(1), TODAY, dry_run=True)
    assert sample.pool_size == 3


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (SampleSpec(0), "size"),
        (SampleSpec(sample_specs.MAX_SIZE + 1), "size"),
        (SampleSpec(1, "a seed with spaces"), "seed"),
        (SampleSpec(1, filters={'pl"an': ["pro"]}), "filters"),
        (SampleSpec(1, filters={"plan": [" ", ""]}), "filters"),
        (SampleSpec(1, stratify_by="a\\b"), "stratify_by"),
    ],
)
def test_settings_out_of_bounds_are_refused_with_the_field(db, sample_beta, spec, field, unchanged):
    beta, cohort = sample_beta
    with unchanged(), pytest.raises(Invalid) as refused:
        draw(db, beta, cohort, spec, dry_run=True)
    assert [d["field"] for d in refused.value.details] == [field]


# Attribute names


def test_an_attribute_is_found_whatever_the_case_and_spacing_of_its_name(
    db, sample_beta, make_account
):
    beta, cohort = sample_beta
    # As a CSV import with the headers "Plan" and "Seat count" stores them.
    pro = [make_account(**{"Plan": "pro", "Seat count": 5}).external_id for _ in range(2)]
    free = [make_account(**{"Plan": "free", "Seat count": 1}).external_id for _ in range(3)]
    spec = SampleSpec(5, "case", {"seat_count": ["1", "5"]}, stratify_by="plan")
    sample = draw(db, beta, cohort, spec, dry_run=True, mix_by=" PLAN ")
    assert sample.mix.attribute == "Plan"
    rows = [(r.value, r.sample, r.pool) for r in sample.mix.rows()]
    assert rows == [("free", 3, 3), ("pro", 2, 2)]
    assert sorted(sample.accounts) == sorted(pro + free)
    assert pool_of(db, beta, cohort, filters={"SEATCOUNT": ["5"]}) == set(pro)
    # The draw is recorded with the names as stored, so that it reads as the accounts do.
    draw(db, beta, cohort, spec)
    [recorded] = cohort.criteria["draws"]
    assert (recorded["filters"], recorded["stratify_by"]) == ({"Seat count": ["1", "5"]}, "Plan")


def test_two_stored_spellings_of_one_name_are_one_attribute(db, sample_beta, make_account):
    beta, cohort = sample_beta
    # One import said "Plan", a later one "plan": the PM means the same attribute.
    old = [make_account(Plan="pro").external_id for _ in range(3)]
    new = [make_account(plan="free").external_id for _ in range(2)]
    sample = draw(
        db, beta, cohort, SampleSpec(5, "two", stratify_by="plan"), dry_run=True, mix_by="plan"
    )
    assert sample.mix.attribute == "Plan"  # the more common spelling
    assert [(r.value, r.sample) for r in sample.mix.rows()] == [("pro", 3), ("free", 2)]
    assert pool_of(db, beta, cohort, filters={"PLAN": ["pro"]}) == set(old)
    assert pool_of(db, beta, cohort, filters={"plan": ["free"]}) == set(new)


@pytest.mark.parametrize(
    ("spec", "mix_by", "field"),
    [
        (SampleSpec(1, filters={"plann": ["pro"]}), None, "filters"),
        (SampleSpec(1, stratify_by="plann"), None, "stratify_by"),
        (SampleSpec(1), "plann", "mix_by"),
    ],
)
def test_an_attribute_no_account_has_is_refused_with_the_known_ones(
    db, sample_beta, make_account, spec, mix_by, field, unchanged
):
    beta, cohort = sample_beta
    make_account(plan="pro", seats=3, region="eu")
    make_account(plan="free", seats=1)
    make_account(plan="team")
    message = "No account has an attribute called 'plann'; known attributes: plan, seats, region."
    with unchanged(), pytest.raises(Invalid) as refused:
        draw(db, beta, cohort, spec, dry_run=True, mix_by=mix_by)
    assert refused.value.message == message
    assert refused.value.details == [{"field": field, "message": message}]


def test_a_long_list_of_known_attributes_is_cut_short(
    db, sample_beta, make_account, monkeypatch, unchanged
):
    beta, cohort = sample_beta
    monkeypatch.setattr(attributes, "NAMES_LISTED", 2)
    make_account(a=1, b=1, c=1, d=1)
    with unchanged(), pytest.raises(Invalid, match="known attributes: a, b and 2 more\\.$"):
        draw(db, beta, cohort, SampleSpec(1, stratify_by="e"), dry_run=True)


def test_accounts_without_attributes_say_so(db, sample_beta, make_account, unchanged):
    beta, cohort = sample_beta
    make_account()
    with unchanged(), pytest.raises(Invalid, match="the accounts have no attributes yet"):
        draw(db, beta, cohort, SampleSpec(1, stratify_by="plan"), dry_run=True)


def test_two_filters_on_one_attribute_are_refused(db, sample_beta, make_account, unchanged):
    beta, cohort = sample_beta
    make_account(Plan="pro")
    with unchanged(), pytest.raises(Invalid) as refused:
        draw(db, beta, cohort, SampleSpec(1, filters={"plan": ["pro"], "PLAN": ["team"]}))
    assert refused.value.details == [
        {
            "field": "filters",
            "message": "plan and PLAN are one attribute, Plan: give all its values in one filter.",
        }
    ]


def test_known_attributes_lists_the_most_common_first(db, make_account):
    make_account(region="eu", plan="pro")
    make_account(plan="free", seats=2)
    make_account(plan="team", seats=3, **{'say "hi"': 1})
    db.add(Account(external_id="listed", attributes=["not", "an", "object"]))
    db.flush()
    # A name with quotes cannot be asked for, and a list has no names.
    assert attributes.known_attributes(db) == ["plan", "seats", "region"]
    # The page's suggestions look at the newest accounts only, so that they cost nothing.
    assert attributes.known_attributes(db, newest=2) == ["plan", "seats"]


def test_names_are_folded_without_case_or_spacing():
    assert {
        attributes.fold_name(n) for n in ("Seat count", "seat_count", " SEAT-COUNT", "seatCount")
    } == {"seatcount"}
    assert attributes.fold_name("plan") != attributes.fold_name("plans")


# An empty pool


def test_filters_no_account_in_the_pool_matches_are_named(db, sample_beta, make_account, unchanged):
    beta, cohort = sample_beta
    make_account(plan="pro", region="eu")
    make_account(plan="free", region="us")
    with unchanged(), pytest.raises(sampling.PoolTooSmall) as refused:
        draw(db, beta, cohort, SampleSpec(2, filters={"plan": ["pro", "team"], "region": ["us"]}))
    message = (
        "No account in the pool matches the filters plan = pro, team; region = us: loosen them "
        "(take a line away, or add values to one)."
    )
    assert refused.value.message == message
    assert refused.value.details == [{"field": "filters", "message": message}]


@pytest.mark.parametrize(
    ("exclude_other_betas", "left_out"),
    [
        (False, "every account is in this beta already or matches one of its problem searches."),
        (True, "active or invited in another running beta, or matches one of this beta's"),
    ],
)
def test_an_empty_pool_without_filters_says_what_left_every_account_out(
    db, sample_beta, make_cohort, make_account, exclude_other_betas, left_out, unchanged
):
    beta, cohort = sample_beta
    joined = make_account()
    memberships.enroll(
        db, Actor(beta.owner), beta, make_cohort(beta), [joined.external_id], "asked", TODAY
    )
    spec = SampleSpec(1, exclude_other_betas=exclude_other_betas)
    with unchanged(), pytest.raises(sampling.PoolTooSmall) as refused:
        draw(db, beta, cohort, spec)
    assert refused.value.message.startswith("No account is left to draw: ")
    assert left_out in refused.value.message
    assert [d["field"] for d in refused.value.details] == ["size"]


def test_a_pool_of_one_says_one_account(db, sample_beta, accounts, unchanged):
    beta, cohort = sample_beta
    accounts(1)
    with unchanged(), pytest.raises(sampling.PoolTooSmall) as refused:
        draw(db, beta, cohort, SampleSpec(3))
    assert refused.value.message == (
        "The pool holds 1 account, fewer than the 3 asked for: draw at most 1, or loosen the "
        "filters."
    )
    assert refused.value.details == [{"field": "size", "message": "At most 1, the pool's size."}]


# The next draw


def test_the_next_draw_continues_the_cohort_and_its_plan(db, sample_beta, accounts):
    beta, cohort = sample_beta
    accounts(10, plan="pro")
    cohort.planned_size = 5
    start = sample_specs.next_draw(db, beta, cohort)
    assert (start.seed, start.latest, start.members, start.to_plan) == (None, {}, 0, 5)
    assert start.attributes == ["plan"] and start.not_here is None
    draw(db, beta, cohort, SampleSpec(3, "next", stratify_by="plan"))
    start = sample_specs.next_draw(db, beta, cohort)
    assert (start.seed, start.latest["stratify_by"], start.members, start.to_plan) == (
        "next",
        "plan",
        3,
        2,
    )
    draw(db, beta, cohort, SampleSpec(4))
    assert sample_specs.next_draw(db, beta, cohort).to_plan == 0
    cohort.planned_size = None
    assert sample_specs.next_draw(db, beta, cohort).to_plan is None


def test_the_next_draw_into_another_kind_of_cohort_points_to_the_sample_cohorts(
    db, sample_beta, make_cohort
):
    beta, cohort = sample_beta
    manual = make_cohort(beta, "by-hand", CohortKind.MANUAL)
    start = sample_specs.next_draw(db, beta, manual)
    assert start.not_here == (
        "By Hand is a manual cohort: random samples are drawn into random-sample cohorts."
    )
    assert start.sample_cohorts == [cohort]
