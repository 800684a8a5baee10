"""The finder's search: customer text only, filters, ranking, evidence, and the index."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from betas.models import BetaState
from cohorts import finder
from cohorts.finder import Criteria, InvalidQuery
from cohorts.models import (
    Account,
    Author,
    Cohort,
    CohortKind,
    Membership,
    MembershipStatus,
)
from tests.cohorts.conversations import NOW, converse
from tests.cohorts.finder.searching import found

# Customer text only


def test_requesters_rank_above_accounts_only_a_teammate_mentioned(db, beta):
    converse(db, "asked-once", "Could we export the report?")
    converse(db, "asked-twice", "I need to export my data")
    converse(db, "asked-twice", "Any news on export?")
    converse(
        db,
        "teammate-only",
        "How do I change my password?",
        (Author.TEAMMATE, "Done! By the way, you can now export reports."),
        (Author.BOT, "Tip: try our new export feature."),
    )
    assert found(db, beta, "export") == ["asked-twice", "asked-once"]


# Filters


def test_the_date_range_covers_whole_days_of_the_matching_message(db, beta, unchanged):
    converse(db, "old", "export please", at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    converse(db, "new", "export please", at=datetime(2026, 9, 2, 0, 10, tzinfo=UTC))
    assert found(db, beta, "export", since=date(2026, 9, 2)) == ["new"]
    assert found(db, beta, "export", until=date(2026, 3, 1)) == ["old"]
    assert found(db, beta, "export", since=date(2026, 3, 2), until=date(2026, 9, 1)) == []
    assert found(db, beta, "export", since=date(1, 1, 1), until=date(9999, 12, 31)) == [
        "new",
        "old",
    ]
    with unchanged(), pytest.raises(InvalidQuery, match="swap the dates"):
        found(db, beta, "export", since=date(2026, 9, 2), until=date(2026, 3, 1))


def test_the_tag_filter_keeps_conversations_with_any_of_the_tags(db, beta):
    converse(db, "billing", "export invoices", tags=["billing"])
    converse(db, "reports", "export charts", tags=["reports", "vip"])
    converse(db, "untagged", "export everything")
    assert sorted(found(db, beta, "export", tags=("billing", "vip"))) == ["billing", "reports"]
    assert found(db, beta, "export", tags=("nothing",)) == []


# Ranking and evidence


def test_accounts_rank_by_conversations_then_match_quality_and_recency(db, beta):
    converse(db, "three", "export?", at=NOW - timedelta(days=300))
    converse(db, "three", "export!", at=NOW - timedelta(days=200))
    converse(db, "three", "export.", at=NOW - timedelta(days=100))
    converse(db, "recent", "export it", at=NOW - timedelta(days=1))
    converse(db, "stale", "export it", at=NOW - timedelta(days=400))
    converse(db, "many-messages", "export", "export again", "export, please", at=NOW)
    result = finder.search(db, beta, Criteria("export"), limit=2, now=NOW)
    assert [m.account for m in result.matches] == ["three", "many-messages"]
    assert (result.total_accounts, result.matched_parts) == (4, 8)
    assert type(result.matched_parts) is int
    assert found(db, beta, "export")[2:] == ["recent", "stale"]
    # Only "three" can lead, so only its parts are rated; the totals still count every match.
    top = finder.search(db, beta, Criteria("export"), limit=1, now=NOW)
    assert [m.account for m in top.matches] == ["three"]
    assert (top.total_accounts, top.matched_parts) == (4, 8)


def test_evidence_quotes_the_three_most_recent_matching_messages(db, beta):
    for day in range(1, 6):
        converse(db, "acme", f"export request number {day}", at=NOW - timedelta(days=10 - day))
    match = finder.search(db, beta, Criteria("export"), now=NOW).matches[0]
    assert (match.conversations, match.last_match_at) == (5, NOW - timedelta(days=5))
    assert [str(e.snippet) for e in match.evidence] == [
        f"<mark>export</mark> request number {day}" for day in (5, 4, 3)
    ]
    assert match.evidence[0].conversation.startswith("conv-")


def test_snippets_escape_what_the_customer_wrote_and_mark_the_match(db, beta):
    converse(db, "mallory", "<script>alert(1)</script> export & <b>more</b>")
    snippet = finder.search(db, beta, Criteria("export"), now=NOW).matches[0].evidence[0].snippet
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in snippet
    assert "<mark>export</mark> &amp; &lt;b&gt;more&lt;/b&gt;" in snippet
    assert "<script>" not in snippet


def test_long_messages_are_quoted_around_the_match(db, beta):
    filler = "We use the dashboard every day and it is great. " * 20
    converse(db, "long", filler + "Could we export charts to CSV some day? " + filler)
    snippet = str(finder.search(db, beta, Criteria("csv"), now=NOW).matches[0].evidence[0].snippet)
    assert "<mark>CSV</mark>" in snippet
    assert snippet.startswith("…") and snippet.endswith("…")
    assert len(snippet) < 400


def test_results_say_whether_the_account_is_in_this_beta_or_another_running_one(
    db, beta, make_beta
):
    other = make_beta(state=BetaState.RUNNING, key="other-beta")
    finished = make_beta(state=BetaState.DECIDED, key="finished-beta")
    for name in ("member", "elsewhere", "free"):
        converse(db, name, "export please")
    accounts = {a.external_id: a for a in db.scalars(select(Account))}
    for b, external_id in ((beta, "member"), (other, "elsewhere"), (finished, "free")):
        cohort = Cohort(beta=b, slug="wave-1", name="Wave 1", kind=CohortKind.EARLY_ADOPTERS)
        db.add(
            Membership(
                beta=b, account=accounts[external_id], cohort=cohort, status=MembershipStatus.ACTIVE
            )
        )
    db.flush()
    matches = {m.account: m for m in finder.search(db, beta, Criteria("export"), now=NOW).matches}
    assert matches["member"].membership.status == MembershipStatus.ACTIVE
    assert matches["member"].other_betas == []
    assert matches["elsewhere"].membership is None
    assert matches["elsewhere"].other_betas == ["other-beta"]
    assert (matches["free"].membership, matches["free"].other_betas) == (None, [])


def test_the_reason_cites_conversations_the_last_date_and_a_short_quote(db, beta):
    converse(db, "acme", "can I export this?", at=datetime(2026, 9, 1, 9, tzinfo=UTC))
    converse(db, "acme", "can I export this to CSV?", at=datetime(2026, 10, 2, 9, tzinfo=UTC))
    match = finder.search(db, beta, Criteria("export"), now=NOW).matches[0]
    assert (
        match.reason(UTC)
        == 'asked in 2 conversations, last 2026-10-02: "can I export this to CSV?"'
    )


# The index


def test_the_index_follows_edited_parts_and_moved_conversations(db, beta, make_account):
    conversation = converse(db, "editor", "please add exports")
    part = conversation.parts[0]
    part.body = "please add webhooks"
    db.flush()
    assert found(db, beta, "webhooks") == ["editor"]
    assert found(db, beta, "exports") == []
    part.author = Author.TEAMMATE
    db.flush()
    assert found(db, beta, "webhooks") == []
    part.author = Author.CUSTOMER
    part.created_at = datetime(2025, 1, 2, tzinfo=UTC)
    db.flush()
    assert found(db, beta, "webhooks", until=date(2025, 1, 2)) == ["editor"]
    conversation.account = make_account("new-owner")
    db.flush()
    assert found(db, beta, "webhooks") == ["new-owner"]
    db.delete(conversation)
    db.flush()
    assert found(db, beta, "webhooks") == []
