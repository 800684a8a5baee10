"""A conversation opened from the finder: parts in order, the search marked in customers' words."""

from __future__ import annotations

from datetime import timedelta

import pytest

from betas.errors import NotFound
from cohorts import finder
from cohorts.models import Author
from tests.cohorts.conversations import NOW, converse


def texts(shown) -> list[tuple[str, str]]:
    return [(part.author.value, str(part.text)) for part in shown.parts]


def test_every_part_comes_in_order_with_its_author_and_nothing_is_marked_without_a_search(db):
    conversation = converse(
        db,
        "acme",
        (Author.BOT, "Hi! A teammate will be with you."),
        "Can I <b>export</b> this?",
        (Author.TEAMMATE, "Yes: export from Reports."),
    )
    conversation.parts[0].created_at = NOW + timedelta(days=1)  # written last, listed last
    db.flush()
    shown = finder.open_conversation(db, conversation.external_id)
    assert texts(shown) == [
        ("customer", "Can I &lt;b&gt;export&lt;/b&gt; this?"),
        ("teammate", "Yes: export from Reports."),
        ("bot", "Hi! A teammate will be with you."),
    ]
    assert shown.query is None and not any(part.marked for part in shown.parts)


def test_the_search_is_marked_in_customers_words_only_by_the_index_stemmer(db):
    conversation = converse(
        db,
        "acme",
        "We keep exporting <reports> by hand",
        "Still no EXPORTS? And the CSV?",
        "Thanks",
        (Author.TEAMMATE, "You can export to CSV."),
    )
    shown = finder.open_conversation(db, conversation.external_id, "exports csv -thanks")
    assert texts(shown) == [
        ("customer", "We keep <mark>exporting</mark> &lt;reports&gt; by hand"),
        ("customer", "Still no <mark>EXPORTS</mark>? And the <mark>CSV</mark>?"),
        ("customer", "Thanks"),
        ("teammate", "You can export to CSV."),
    ]
    assert [part.marked for part in shown.parts] == [True, True, False, False]
    assert str(shown.query) == "exports csv -thanks"


def test_a_phrase_is_marked_where_its_words_follow_each_other(db):
    conversation = converse(db, "acme", "export to csv please", "csv or export, to be clear")
    shown = finder.open_conversation(db, conversation.external_id, '"export to csv"')
    assert texts(shown)[0][1].count("<mark>") >= 1
    assert "<mark>" not in texts(shown)[1][1]


def test_a_search_with_nothing_to_look_for_marks_nothing_and_says_why(db):
    conversation = converse(db, "acme", "the export")
    shown = finder.open_conversation(db, conversation.external_id, "the -export")
    assert shown.query is None
    assert shown.unmarked.startswith("Add at least one word to search for.")
    assert texts(shown) == [("customer", "the export")]


def test_an_unknown_conversation_is_not_found(db):
    with pytest.raises(NotFound):
        finder.open_conversation(db, "nope")


def test_accents_and_line_breaks_are_kept_and_accented_words_marked(db):
    conversation = converse(db, "acme", "Our Café menus:\nplease export them")
    shown = finder.open_conversation(db, conversation.external_id, "cafe exports")
    assert texts(shown) == [
        ("customer", "Our <mark>Café</mark> menus:\nplease <mark>export</mark> them")
    ]
