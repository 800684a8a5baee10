"""The finder: customer text only, query language, filters, ranking, evidence, saved searches."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from betas.audit import Actor
from betas.errors import Conflict, Forbidden
from betas.models import AuditEntry, BetaState, Role
from cohorts import finder
from cohorts.finder import Criteria, InvalidQuery, parse_query
from cohorts.models import (
    Account,
    Author,
    Cohort,
    CohortKind,
    Conversation,
    ConversationPart,
    ConversationTag,
    Membership,
    MembershipStatus,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
_numbers = itertools.count(1)


# Helpers, also used by the API and page tests


def converse(db, account: str, *parts, tags=(), at: datetime | None = None) -> Conversation:
    """Add a conversation of `account` (made if new); parts are customer text or (author, text)."""
    owner = db.scalar(select(Account).where(Account.external_id == account))
    if owner is None:
        owner = Account(external_id=account, name=account.title())
        db.add(owner)
    at = at or NOW - timedelta(days=10)
    conversation = Conversation(
        external_id=f"conv-{next(_numbers)}",
        account=owner,
        started_at=at,
        tags=[ConversationTag(tag=tag) for tag in tags],
    )
    for n, part in enumerate(parts):
        author, body = part if isinstance(part, tuple) else (Author.CUSTOMER, part)
        conversation.parts.append(
            ConversationPart(author=author, body=body, created_at=at + timedelta(minutes=n))
        )
    db.add(conversation)
    db.flush()
    return conversation


def found(db, beta, query: str, **criteria) -> list[str]:
    """Return the external ids of the accounts a search finds, best first."""
    limit = criteria.pop("limit", 20)
    result = finder.search(db, beta, Criteria(query, **criteria), limit=limit, now=NOW)
    return [m.account for m in result.matches]


@pytest.fixture
def beta(make_beta):
    return make_beta(state=BetaState.RUNNING)


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


# The query language


def test_english_stemming_matches_every_form_of_a_word(db, beta):
    converse(db, "a", "Please let us export to CSV")
    converse(db, "b", "Our exports are broken")
    converse(db, "c", "Exporting takes forever")
    converse(db, "d", "The report is wrong")
    for query in ("export", "exports", "exporting"):
        assert sorted(found(db, beta, query)) == ["a", "b", "c"], query


def test_case_and_accents_are_ignored(db, beta):
    converse(db, "accented", "Le Café a besoin d'un export")
    converse(db, "plain", "The CAFE menu export")
    for query in ("cafe", "Café", "CAFÉ"):
        assert sorted(found(db, beta, query)) == ["accented", "plain"], query
    result = finder.search(db, beta, Criteria("cafe"), now=NOW)
    snippets = {m.account: str(m.evidence[0].snippet) for m in result.matches}
    assert "<mark>Café</mark>" in snippets["accented"]
    assert "<mark>CAFE</mark>" in snippets["plain"]


def test_quoted_phrases_match_the_words_together_in_order(db, beta):
    converse(db, "phrase", "Can we get a scheduled report every week?")
    converse(db, "apart", "The report is scheduled for review")
    assert found(db, beta, '"scheduled report"') == ["phrase"]
    assert sorted(found(db, beta, "scheduled report")) == ["apart", "phrase"]


def test_or_joins_two_terms_and_excluded_terms_remove_messages(db, beta):
    converse(db, "csv", "export to csv please")
    converse(db, "pdf", "export to pdf please")
    converse(db, "xlsx", "export to xlsx please")
    converse(db, "sheets", "export to google sheets please")
    assert sorted(found(db, beta, "export csv OR pdf")) == ["csv", "pdf"]
    assert sorted(found(db, beta, 'export -pdf -"google sheets"')) == ["csv", "xlsx"]
    assert found(db, beta, "csv OR") == ["csv"]


def test_the_parser_reduces_any_text_to_words_and_its_own_operators():
    query = parse_query('Exports OR "CSV files" -pdf  -"google  sheets" the e-mail OR')
    assert str(query) == 'exports OR "csv files" "e mail" -pdf -"google sheets"'
    assert finder.fts5_match([query]) == (
        '((("exports" OR "csv files") AND ("e mail")) NOT ("pdf" OR "google sheets"))'
    )
    hostile = parse_query('col:x NEAR(a b) ^c* "d" OR "e')
    assert str(hostile) == '"col x" "near a" b c d OR e'
    assert set(finder.fts5_match([hostile])) <= set(' "()ORANDNOTcolxnearbde')


@pytest.mark.parametrize(
    "query",
    ["", "   ", "-export", '"', "(((", "NOT", "OR", "-", "*", "^", "the can to", "😀", '""'],
)
def test_a_query_with_nothing_to_look_for_is_refused(query):
    with pytest.raises(InvalidQuery, match="Add at least one word to search for"):
        parse_query(query)


def test_long_queries_and_too_many_terms_are_refused():
    with pytest.raises(InvalidQuery, match="at most 500 characters"):
        parse_query("export " * 1500)
    with pytest.raises(InvalidQuery, match="at most 32 words"):
        parse_query(" ".join(f"word{n}" for n in range(40)))


def test_unusual_characters_are_searched_or_ignored_never_sent_raw(db, beta):
    converse(db, "japan", "日本語 のエクスポート 😀")
    converse(db, "plain", "export with odd bytes")
    assert found(db, beta, "日本語 😀") == ["japan"]
    assert found(db, beta, 'NEAR(export) col:x "') == []
    assert found(db, beta, "export\x00\ud800\x1b") == ["plain"]


# Filters


def test_the_date_range_covers_whole_days_of_the_matching_message(db, beta):
    converse(db, "old", "export please", at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    converse(db, "new", "export please", at=datetime(2026, 9, 2, 0, 10, tzinfo=UTC))
    assert found(db, beta, "export", since=date(2026, 9, 2)) == ["new"]
    assert found(db, beta, "export", until=date(2026, 3, 1)) == ["old"]
    assert found(db, beta, "export", since=date(2026, 3, 2), until=date(2026, 9, 1)) == []
    assert found(db, beta, "export", since=date(1, 1, 1), until=date(9999, 12, 31)) == [
        "new",
        "old",
    ]
    with pytest.raises(InvalidQuery, match="swap the dates"):
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


# Problem searches


def test_saving_a_problem_search_is_audited_and_refuses_the_same_search_twice(db, beta, make_user):
    actor = Actor(beta.owner)
    saved = finder.save_problem_search(db, actor, beta, '  export   "csv files" ')
    assert saved.query == 'export "csv files"'
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "problem_search.saved"))
    assert (entry.beta, entry.details) == (beta, {"query": 'export "csv files"'})
    with pytest.raises(Conflict, match="has this problem search already"):
        finder.save_problem_search(db, actor, beta, 'EXPORT "CSV files"')
    with pytest.raises(InvalidQuery):
        finder.save_problem_search(db, actor, beta, "-export")
    with pytest.raises(Forbidden):
        finder.save_problem_search(db, Actor(make_user(Role.VIEWER)), beta, "pdf")


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
