"""Writing: accounts created then updated, conversations replaced, search, all or nothing."""

from __future__ import annotations

from sqlalchemy import select, text

from cohorts.importing import Kind, import_file, writing
from cohorts.models import Account, Author, Conversation, ConversationPart
from tests.cohorts.importing.files import (
    ACCOUNTS,
    CONVERSATIONS,
    accounts_by_id,
    count,
    csv_file,
    failure,
    jsonl,
    messages,
)


def is_sqlite(db) -> bool:
    return db.get_bind().dialect.name == "sqlite"


# Accounts


def test_accounts_are_created_then_updated_by_external_id(db):
    result = import_file(db, csv_file(ACCOUNTS), Kind.ACCOUNTS)
    assert (result.created, result.updated) == (2, 0)
    assert str(result) == "2 created, 0 updated"
    acme = accounts_by_id(db)["acme"]
    assert acme.name == "Acme"
    assert acme.attributes == {"plan": "pro", "seats": 12}
    assert accounts_by_id(db)["globex"].attributes["seats"] == "007"

    again = b"external_id,name,region\nacme,Acme Corp,emea\nnew,,na\n"
    result = import_file(db, csv_file(again), Kind.ACCOUNTS)
    assert (result.created, result.updated) == (1, 1)
    rows = accounts_by_id(db)
    assert rows["acme"].name == "Acme Corp"
    assert rows["acme"].attributes == {"plan": "pro", "seats": 12, "region": "emea"}
    assert rows["new"].name == ""
    assert count(db, Account) == 3


def test_an_empty_name_keeps_the_name_an_account_has(db, accounts):
    import_file(db, csv_file(b"external_id,name\nacme,\n"), Kind.ACCOUNTS)
    assert accounts_by_id(db)["acme"].name == "Acme"


# Conversations


def test_conversations_are_created_with_tags_parts_and_text_bodies(db, accounts):
    result = import_file(db, csv_file(CONVERSATIONS), Kind.CONVERSATIONS)
    assert (result.created, result.updated) == (2, 0)
    db.expire_all()
    first = db.scalar(select(Conversation).where(Conversation.external_id == "c-1"))
    assert first.account.external_id == "acme"
    assert [t.tag for t in first.tags] == ["billing", "reports"]
    assert [(p.author, p.body) for p in first.parts] == [
        (Author.CUSTOMER, "Hi,\nCan we export to CSV?"),
        (Author.TEAMMATE, "Yes: export from Reports."),
    ]
    assert first.started_at.isoformat() == "2026-10-02T14:30:00+00:00"
    second = db.scalar(select(Conversation).where(Conversation.external_id == "c-2"))
    assert second.started_at.isoformat() == "2026-10-01T07:00:00+00:00"
    assert second.tags == []


def test_a_conversation_imported_again_gets_its_tags_and_parts_replaced(db, accounts):
    import_file(db, csv_file(CONVERSATIONS), Kind.CONVERSATIONS)
    again = (
        "conversation_id,account_id,author,body,time,tags\n"
        "c-1,globex,customer,Only this now,2026-10-03T08:00:00Z,urgent\n"
    )
    result = import_file(db, csv_file(again), Kind.CONVERSATIONS)
    assert (result.created, result.updated) == (0, 1)
    db.expire_all()
    first = db.scalar(select(Conversation).where(Conversation.external_id == "c-1"))
    assert first.account.external_id == "globex"
    assert [t.tag for t in first.tags] == ["urgent"]
    assert [p.body for p in first.parts] == ["Only this now"]
    assert first.started_at.isoformat() == "2026-10-03T08:00:00+00:00"
    assert count(db, Conversation) == 2
    assert count(db, ConversationPart) == 2


def test_a_given_start_wins_over_the_earliest_part(db, accounts):
    line = {
        "external_id": "c-9",
        "account": "acme",
        "created_at": "2026-09-30T10:00:00Z",
        "tags": ["billing", "billing", "sso"],
        "parts": [
            {"author": "customer", "body": "<p>Need SSO</p>", "created_at": "2026-10-02T10:00"},
            {"author": "bot", "body": "Thanks!", "created_at": "2026-10-02T10:01:00Z"},
        ],
    }
    assert import_file(db, jsonl(line), Kind.CONVERSATIONS).created == 1
    db.expire_all()
    conversation = db.scalar(select(Conversation))
    assert conversation.started_at.isoformat() == "2026-09-30T10:00:00+00:00"
    assert [t.tag for t in conversation.tags] == ["billing", "sso"]
    assert [p.body for p in conversation.parts] == ["Need SSO", "Thanks!"]
    assert conversation.parts[0].created_at.isoformat() == "2026-10-02T10:00:00+00:00"


def customer_matches(db, word: str) -> set[int]:
    if is_sqlite(db):
        query = "SELECT rowid FROM part_search WHERE part_search MATCH :word"
    else:
        query = (
            "SELECT part_id FROM part_search_entries WHERE vector @@ to_tsquery('english', :word)"
        )
    return set(db.scalars(text(query), {"word": word}))


def test_customer_parts_become_searchable_and_replaced_parts_leave_the_index(db, accounts):
    import_file(db, csv_file(CONVERSATIONS), Kind.CONVERSATIONS)
    customer = set(
        db.scalars(select(ConversationPart.id).where(ConversationPart.author == Author.CUSTOMER))
    )
    assert customer_matches(db, "export") == customer and len(customer) == 1
    again = "conversation_id,account,author,body,created_at\nc-1,acme,customer,Thanks,2026-10-03\n"
    import_file(db, csv_file(again), Kind.CONVERSATIONS)
    assert customer_matches(db, "export") == set()
    assert len(customer_matches(db, "thanks")) == 1


# Bad files change nothing


def test_an_unknown_account_is_named_with_its_row_and_column(db, accounts, unchanged):
    content = CONVERSATIONS + "c-3,acme-9,customer,Hello,2026-10-02T10:00:00Z,\n"
    with unchanged():
        exc = failure(lambda: import_file(db, csv_file(content), Kind.CONVERSATIONS))
    assert messages(exc) == [
        "row 5, column account: no account with id 'acme-9'; import accounts first"
    ]
    assert exc.details == [
        {
            "row": 5,
            "column": "account",
            "message": "no account with id 'acme-9'; import accounts first",
        }
    ]
    assert exc.message == "Nothing was imported: 1 problem found."
    assert count(db, Conversation) == 0 and count(db, ConversationPart) == 0


def test_rows_written_before_a_bad_row_are_rolled_back(db, monkeypatch, unchanged):
    monkeypatch.setattr(writing._AccountWriter, "batch_size", 2)
    rows = "".join(f"a-{n},Account {n}\n" for n in range(10))
    content = f"external_id,name\n{rows},Missing id\n"
    with unchanged():
        failure(lambda: import_file(db, csv_file(content), Kind.ACCOUNTS))
    assert count(db, Account) == 0


def test_a_conversation_split_across_the_file_is_refused(db, accounts, unchanged):
    content = (
        "conversation_id,account,author,body,created_at\n"
        "c-1,acme,customer,Hi,2026-10-02T10:00:00Z\n"
        "c-2,acme,customer,Hi,2026-10-02T10:00:00Z\n"
        "c-1,acme,teammate,Hello,2026-10-02T11:00:00Z\n"
    )
    with unchanged():
        exc = failure(lambda: import_file(db, csv_file(content), Kind.CONVERSATIONS))
    assert messages(exc) == [
        "row 4, column conversation_id: conversation 'c-1' appears again (first in row 2): "
        "keep all rows of a conversation together and list it once"
    ]
