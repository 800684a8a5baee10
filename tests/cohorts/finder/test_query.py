"""The finder's query language: stemming, case and accents, phrases, OR, exclusions, refusals."""

from __future__ import annotations

import pytest

from cohorts import finder
from cohorts.finder import Criteria, InvalidQuery, parse_query
from tests.cohorts.conversations import NOW, converse
from tests.cohorts.finder.searching import found


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
