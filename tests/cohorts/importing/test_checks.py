"""Checks: each bad value has its message and place: a row and column, a line and key, a field."""

from __future__ import annotations

from cohorts.importing import Kind, import_file, import_items
from cohorts.models import Conversation
from tests.cohorts.importing.files import (
    accounts_by_id,
    count,
    csv_file,
    failure,
    jsonl,
    messages,
)


def test_accounts_from_json_lines_keep_other_keys_as_attributes(db):
    lines = jsonl(
        {"external_id": "acme", "name": "Acme", "plan": "pro", "attributes": {"seats": 12}},
        {"external_id": 42, "name": "Answer"},
    )
    assert import_file(db, lines, Kind.ACCOUNTS).created == 2
    rows = accounts_by_id(db)
    assert rows["acme"].attributes == {"plan": "pro", "seats": 12}
    assert rows["42"].name == "Answer"


def test_each_bad_value_has_its_own_message(db, accounts, unchanged):
    content = (
        "conversation_id,account,author,body,created_at\n"
        ",acme,customer,Hi,2026-10-02T10:00:00Z\n"
        "c-1,acme,customer,Hi,31/02/2026\n"
        "c-2,acme,robot,Hi,2026-10-02T10:00:00Z\n"
        "c-3,acme,customer,Hi,\n"
    )
    with unchanged():
        exc = failure(lambda: import_file(db, csv_file(content), Kind.CONVERSATIONS))
    assert messages(exc) == [
        "row 2, column conversation_id: missing conversation id: give every conversation its id",
        "row 3, column created_at: cannot read '31/02/2026' as a date; "
        "use ISO 8601 like 2026-10-02T14:30:00Z",
        "row 4, column author: unknown author 'robot': use customer, teammate or bot",
        "row 5, column created_at: missing time: use ISO 8601 like 2026-10-02T14:30:00Z",
    ]
    assert count(db, Conversation) == 0


def test_a_missing_account_id_is_named(db, unchanged):
    with unchanged():
        exc = failure(lambda: import_file(db, csv_file(b"id,name\n,Nameless\n"), Kind.ACCOUNTS))
    assert messages(exc) == ["row 2, column id: missing account id: give every account its id"]


def test_a_row_with_unquoted_separators_is_refused(db, unchanged):
    content = b"external_id,name\nacme,Acme, Inc.\n"
    with unchanged():
        exc = failure(lambda: import_file(db, csv_file(content), Kind.ACCOUNTS))
    assert "row 2: this row has 3 cells but the header has 2" in messages(exc)[0]


def test_api_items_name_the_field_of_each_problem(db, accounts, unchanged):
    items = [
        {"external_id": "c-1", "account": "acme", "parts": []},
        {"external_id": "c-2", "account": "nope", "parts": [{"author": "x", "body": "y"}]},
    ]
    with unchanged():
        exc = failure(lambda: import_items(db, Kind.CONVERSATIONS, items))
    assert exc.details == [
        {
            "field": "conversations.0.parts",
            "message": "a conversation without parts needs its created_at",
        },
        {
            "field": "conversations.1.parts.0.author",
            "message": "unknown author 'x': use customer, teammate or bot",
        },
        {
            "field": "conversations.1.parts.0.created_at",
            "message": "missing time: use ISO 8601 like 2026-10-02T14:30:00Z",
        },
        {
            "field": "conversations.1.account",
            "message": "no account with id 'nope'; import accounts first",
        },
    ]


def test_a_customer_message_needs_text_and_a_teammate_or_bot_message_does_not(
    db, accounts, unchanged
):
    content = (
        "conversation_id,account,author,body,created_at\n"
        "c-1,acme,bot,,2026-10-02T10:00:00Z\n"
        "c-1,acme,teammate,<p></p>,2026-10-02T10:01:00Z\n"
        'c-1,acme,customer,"<p><img src=""x.png""></p>",2026-10-02T10:02:00Z\n'
    )
    empty = (
        "the customer's message is empty (once any HTML is removed): a customer's part needs "
        "its text; only teammates' and bots' parts may be empty"
    )
    with unchanged():
        exc = failure(lambda: import_file(db, csv_file(content), Kind.CONVERSATIONS))
    assert messages(exc) == [f"row 4, column body: {empty}"]
    part = {"author": "customer", "created_at": "2026-10-02T10:00:00Z"}
    with unchanged():
        exc = failure(
            lambda: import_items(
                db, Kind.CONVERSATIONS, [{"external_id": "c-1", "account": "acme", "parts": [part]}]
            )
        )
    assert exc.details == [{"field": "conversations.0.parts.0.body", "message": empty}]
    fine = content.rsplit("\n", 2)[0] + "\nc-1,acme,customer,Hi,2026-10-02T10:02:00Z\n"
    assert import_file(db, csv_file(fine), Kind.CONVERSATIONS).created == 1
