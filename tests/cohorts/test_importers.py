"""The importer: HTML to text, upserts, all-or-nothing with problems by row, formats, mapping."""

from __future__ import annotations

import io
import json
import os
import stat
import time

import pytest
from sqlalchemy import func, select, text

from cohorts import importers
from cohorts.importers import ImportFailed, Kind, html_to_text, import_file, import_items
from cohorts.models import Account, Author, Conversation, ConversationPart

ACCOUNTS = b"external_id,name,plan,seats\nacme,Acme,pro,12\nglobex,Globex,free,007\n"
CONVERSATIONS = (
    "conversation_id,account,author,body,created_at,tags\n"
    'c-1,acme,customer,"<p>Hi,</p><p>Can we <b>export</b> to CSV?</p>",'
    '2026-10-02T14:30:00Z,"billing; reports"\n'
    'c-1,acme,teammate,"<p>Yes: export from Reports.</p>",2026-10-02T15:00:00Z,"billing; reports"\n'
    "c-2,globex,bot,Closed after a week.,2026-10-01T09:00:00+02:00,\n"
)


def csv_file(content: str | bytes) -> io.BytesIO:
    return io.BytesIO(content.encode() if isinstance(content, str) else content)


def jsonl(*objects) -> io.BytesIO:
    return io.BytesIO("".join(json.dumps(o) + "\n" for o in objects).encode())


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def accounts_by_id(db) -> dict[str, Account]:
    db.expire_all()
    return {a.external_id: a for a in db.scalars(select(Account))}


def failure(call) -> ImportFailed:
    with pytest.raises(ImportFailed) as caught:
        call()
    assert caught.value.status == 422 and caught.value.code == "import_failed"
    return caught.value


def messages(exc: ImportFailed) -> list[str]:
    return [str(problem) for problem in exc.problems]


@pytest.fixture
def accounts(db):
    import_file(db, csv_file(ACCOUNTS), Kind.ACCOUNTS)
    return accounts_by_id(db)


def is_sqlite(db) -> bool:
    return db.get_bind().dialect.name == "sqlite"


# HTML to text


def test_html_becomes_readable_text():
    body = (
        "<html><head><title>t</title><style>p { color: red }</style></head><body>"
        "<p>Hi&nbsp;team,</p>\n\n<p>Tom &amp; Jerry   want <b>CSV</b> exports &lt;soon&gt;.</p>"
        "<script>alert('x')</script><ul><li>one</li><li>two</li></ul>Bye<br>Ana<!-- note --></body>"
    )
    assert (
        html_to_text(body) == "Hi team,\nTom & Jerry want CSV exports <soon>.\none\ntwo\nBye\nAna"
    )


def test_plain_text_keeps_its_lines_and_its_ampersands():
    assert html_to_text("  AT&T and R&amp;D\r\n\r\n  second   line ") == "AT&T and R&D\nsecond line"


def test_an_unclosed_script_drops_everything_after_it():
    assert html_to_text("<p>Visible</p><script>var secret = 1;") == "Visible"


def test_table_cells_are_separated():
    assert html_to_text("<table><tr><td>plan</td><td>pro</td></tr></table>") == "plan pro"


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


def test_a_bom_and_semicolons_are_read(db):
    content = "\ufeffAccount ID;Name;Plan\nacme;Acme, Inc.;pro\n".encode()
    assert import_file(db, csv_file(content), Kind.ACCOUNTS).created == 1
    acme = accounts_by_id(db)["acme"]
    assert (acme.name, acme.attributes) == ("Acme, Inc.", {"Plan": "pro"})


def test_tabs_are_read(db):
    import_file(db, csv_file(b"id\tname\tregion\nacme\tAcme; Inc\tapac\n"), Kind.ACCOUNTS)
    acme = accounts_by_id(db)["acme"]
    assert (acme.name, acme.attributes) == ("Acme; Inc", {"region": "apac"})


def test_accounts_from_json_lines_keep_other_keys_as_attributes(db):
    lines = jsonl(
        {"external_id": "acme", "name": "Acme", "plan": "pro", "attributes": {"seats": 12}},
        {"external_id": 42, "name": "Answer"},
    )
    assert import_file(db, lines, Kind.ACCOUNTS).created == 2
    rows = accounts_by_id(db)
    assert rows["acme"].attributes == {"plan": "pro", "seats": 12}
    assert rows["42"].name == "Answer"


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


def test_an_unknown_account_is_named_with_its_row_and_column(db, accounts):
    content = CONVERSATIONS + "c-3,acme-9,customer,Hello,2026-10-02T10:00:00Z,\n"
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


def test_each_bad_value_has_its_own_message(db, accounts):
    content = (
        "conversation_id,account,author,body,created_at\n"
        ",acme,customer,Hi,2026-10-02T10:00:00Z\n"
        "c-1,acme,customer,Hi,31/02/2026\n"
        "c-2,acme,robot,Hi,2026-10-02T10:00:00Z\n"
        "c-3,acme,customer,Hi,\n"
    )
    exc = failure(lambda: import_file(db, csv_file(content), Kind.CONVERSATIONS))
    assert messages(exc) == [
        "row 2, column conversation_id: missing conversation id: give every conversation its id",
        "row 3, column created_at: cannot read '31/02/2026' as a date; "
        "use ISO 8601 like 2026-10-02T14:30:00Z",
        "row 4, column author: unknown author 'robot': use customer, teammate or bot",
        "row 5, column created_at: missing time: use ISO 8601 like 2026-10-02T14:30:00Z",
    ]
    assert count(db, Conversation) == 0


def test_a_missing_account_id_is_named(db):
    exc = failure(lambda: import_file(db, csv_file(b"id,name\n,Nameless\n"), Kind.ACCOUNTS))
    assert messages(exc) == ["row 2, column id: missing account id: give every account its id"]


def test_a_file_in_another_encoding_is_refused_with_a_clear_message(db):
    content = "external_id,name\nacme,Acme\nzurich,Zürich AG\n".encode("latin-1")
    exc = failure(lambda: import_file(db, csv_file(content), Kind.ACCOUNTS))
    assert messages(exc) == ["the file is not UTF-8 (near row 3): save it as UTF-8 and try again"]
    assert count(db, Account) == 0


def test_rows_written_before_a_bad_row_are_rolled_back(db, monkeypatch):
    monkeypatch.setattr(importers._AccountWriter, "batch_size", 2)
    rows = "".join(f"a-{n},Account {n}\n" for n in range(10))
    content = f"external_id,name\n{rows},Missing id\n"
    failure(lambda: import_file(db, csv_file(content), Kind.ACCOUNTS))
    assert count(db, Account) == 0


def test_at_most_50_problems_are_listed_but_all_are_counted(db):
    content = "external_id,name\n" + "".join(f",Account {n}\n" for n in range(60))
    exc = failure(lambda: import_file(db, csv_file(content), Kind.ACCOUNTS))
    assert len(exc.problems) == len(exc.details) == 50
    assert exc.total == 60
    assert exc.message == "Nothing was imported: 60 problems found; the first 50 are listed."
    assert exc.details[-1]["row"] == 51


def test_a_conversation_split_across_the_file_is_refused(db, accounts):
    content = (
        "conversation_id,account,author,body,created_at\n"
        "c-1,acme,customer,Hi,2026-10-02T10:00:00Z\n"
        "c-2,acme,customer,Hi,2026-10-02T10:00:00Z\n"
        "c-1,acme,teammate,Hello,2026-10-02T11:00:00Z\n"
    )
    exc = failure(lambda: import_file(db, csv_file(content), Kind.CONVERSATIONS))
    assert messages(exc) == [
        "row 4, column conversation_id: conversation 'c-1' appears again (first in row 2): "
        "keep all rows of a conversation together and list it once"
    ]


def test_a_row_with_unquoted_separators_is_refused(db):
    content = b"external_id,name\nacme,Acme, Inc.\n"
    exc = failure(lambda: import_file(db, csv_file(content), Kind.ACCOUNTS))
    assert "row 2: this row has 3 cells but the header has 2" in messages(exc)[0]


def test_bad_json_lines_name_the_line_and_key(db, accounts):
    lines = io.BytesIO(
        b'{"external_id": "c-1", "account": "acme", "parts": [{"author": "alien", '
        b'"body": "Hi", "created_at": "2026-10-02"}]}\n'
        b"not json\n"
    )
    exc = failure(lambda: import_file(db, lines, Kind.CONVERSATIONS))
    assert messages(exc)[0] == (
        "line 1, key parts.0.author: unknown author 'alien': use customer, teammate or bot"
    )
    assert messages(exc)[1].startswith("line 2: not valid JSON")


def test_an_empty_file_is_refused(db):
    exc = failure(lambda: import_file(db, csv_file(b"\xef\xbb\xbf \n"), Kind.ACCOUNTS))
    assert messages(exc) == ["the file is empty"]


# Column mapping


def test_columns_are_guessed_from_common_names(db, accounts):
    content = (
        "Conversation ID;Account ID;From;Message;Timestamp;Labels;Subject\n"
        "c-1;acme;customer;Hello;2026-10-02T10:00:00Z;a,b;ignored\n"
    )
    assert importers.guess_mapping(Kind.CONVERSATIONS, content.split("\n")[0].split(";")) == {
        "Conversation ID": "conversation",
        "Account ID": "account",
        "From": "author",
        "Message": "body",
        "Timestamp": "created_at",
        "Labels": "tags",
        "Subject": "skip",
    }
    assert import_file(db, csv_file(content), Kind.CONVERSATIONS).created == 1


def test_a_chosen_mapping_overrides_the_guesses(db):
    content = b"id,name,company\nx-1,Ana,Acme\n"
    chosen = {"name": "attribute", "company": "name"}
    import_file(db, csv_file(content), Kind.ACCOUNTS, chosen)
    account = accounts_by_id(db)["x-1"]
    assert (account.name, account.attributes) == ("Acme", {"name": "Ana"})


def test_a_mapping_that_misses_a_field_or_names_no_column_is_refused(db):
    content = b"ref,name\nx-1,Ana\n"
    exc = failure(lambda: import_file(db, csv_file(content), Kind.ACCOUNTS, {"reff": "name"}))
    assert messages(exc) == [
        "there is no column 'reff'; the columns are: ref, name",
        "no column holds the account id: map one to external_id",
    ]
    exc = failure(
        lambda: import_file(
            db, csv_file(content), Kind.ACCOUNTS, {"ref": "external_id", "name": "id"}
        )
    )
    assert messages(exc)[0].startswith("'id' is not a field of accounts")


def test_a_preview_shows_the_first_records_without_importing(db, accounts):
    shown = importers.preview(csv_file(CONVERSATIONS), Kind.CONVERSATIONS, limit=1)
    assert [c.external_id for c in shown.records] == ["c-1"]
    assert [p.body for p in shown.records[0].parts][0] == "Hi,\nCan we export to CSV?"
    assert shown.mapping["account"] == "account"
    assert count(db, Conversation) == 0


# API items


def test_api_items_name_the_field_of_each_problem(db, accounts):
    items = [
        {"external_id": "c-1", "account": "acme", "parts": []},
        {"external_id": "c-2", "account": "nope", "parts": [{"author": "x", "body": "y"}]},
    ]
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


# Uploads


def test_uploads_are_private_random_and_forgotten_after_a_day(tmp_path):
    uploads = importers.Uploads(tmp_path / "imports")
    upload_id = uploads.save(io.BytesIO(b"id\nacme\n"))
    path = tmp_path / "imports" / upload_id
    assert len(upload_id) == 32 and upload_id != uploads.save(io.BytesIO(b""))
    assert stat.S_IMODE(os.stat(tmp_path / "imports").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with uploads.open(upload_id) as stream:
        assert stream.read() == b"id\nacme\n"
    with pytest.raises(importers.UploadGone):
        uploads.open("../../etc/passwd")
    uploads.sweep(now=time.time() + 3600)
    assert path.exists()
    uploads.sweep(now=time.time() + 25 * 3600)
    assert not path.exists()
    with pytest.raises(importers.UploadGone):
        uploads.open(upload_id)
