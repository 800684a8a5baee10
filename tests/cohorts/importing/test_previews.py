"""Previews: every row checked as the import checks it, the file's counts, nothing written."""

from __future__ import annotations

import io

from cohorts import importing
from cohorts.importing import Kind, import_file
from cohorts.models import Account, Conversation
from tests.cohorts.importing.files import ACCOUNTS, CONVERSATIONS, count, csv_file, jsonl


class NoWholeReads(io.BytesIO):
    """A file that refuses to be read whole: a preview must stream it line by line."""

    def read(self, size: int | None = -1) -> bytes:
        """Read a part of the file, never all of it."""
        assert size is not None and size >= 0, "the whole file was read at once"
        return super().read(size)

    def readlines(self, hint: int = -1) -> list[bytes]:
        """Refuse: that reads the whole file."""
        raise AssertionError("the whole file was read at once")


def preview(db, content, kind: Kind, **options):
    stream = content if isinstance(content, io.BytesIO) else csv_file(content)
    return importing.preview(db, stream, kind, **options)


def test_a_preview_counts_rows_and_records_keeps_the_first_and_writes_nothing(db, accounts):
    shown = preview(db, CONVERSATIONS, Kind.CONVERSATIONS, limit=1)
    assert [c.external_id for c in shown.records] == ["c-1"]
    assert [p.body for p in shown.records[0].parts][0] == "Hi,\nCan we export to CSV?"
    assert shown.mapping["account"] == "account"
    assert (shown.checked, shown.rows, shown.found, shown.parts) == (True, 3, 2, 3)
    assert (shown.result.created, shown.result.updated) == (2, 0)
    assert (shown.problems, shown.total_problems, shown.blocked) == ([], 0, "")
    assert count(db, Conversation) == 0


def test_a_preview_says_what_importing_again_would_update(db):
    import_file(db, csv_file(ACCOUNTS), Kind.ACCOUNTS)
    shown = preview(db, ACCOUNTS + b"initech,Initech,pro,3\n", Kind.ACCOUNTS)
    assert (shown.rows, shown.found, shown.result.created, shown.result.updated) == (3, 3, 1, 2)


def test_a_preview_checks_every_row_not_only_the_ones_it_shows(db, unchanged):
    rows = "".join(f"a-{n},Account {n}\n" for n in range(30))
    content = f"external_id,name\n{rows}\n,Nameless\n"
    with unchanged():
        shown = preview(db, content, Kind.ACCOUNTS, limit=10)
    assert len(shown.records) == 10
    assert (shown.rows, shown.found) == (31, 30)
    assert [str(p) for p in shown.problems] == [
        "row 33, column external_id: missing account id: give every account its id"
    ]
    assert shown.blocked == (
        "fix the 1 problem listed above first: a file with any problem imports nothing"
    )


def test_a_preview_makes_the_checks_against_the_database_and_the_whole_file(
    db, accounts, unchanged
):
    content = CONVERSATIONS + (
        "c-3,acme-9,customer,Hello,2026-10-02T10:00:00Z,\n"
        "c-1,acme,customer,Again,2026-10-02T11:00:00Z,\n"
    )
    with unchanged():
        shown = preview(db, content, Kind.CONVERSATIONS)
    assert [str(p) for p in shown.problems] == [
        "row 5, column account: no account with id 'acme-9'; import accounts first",
        "row 6, column conversation_id: conversation 'c-1' appears again (first in row 2): "
        "keep all rows of a conversation together and list it once",
    ]
    assert shown.total_problems == 2


def test_a_preview_finds_empty_customer_messages_as_the_import_does(db, accounts, unchanged):
    content = (
        "conversation_id,account,author,body,created_at\n"
        "c-1,acme,bot,,2026-10-02T10:00:00Z\n"
        'c-1,acme,customer,"<p><img src=""x.png""></p>",2026-10-02T10:01:00Z\n'
    )
    with unchanged():
        shown = preview(db, content, Kind.CONVERSATIONS)
    assert [str(p) for p in shown.problems] == [
        "row 3, column body: the customer's message is empty (once any HTML is removed): a "
        "customer's part needs its text; only teammates' and bots' parts may be empty"
    ]


def test_a_bad_mapping_is_listed_without_reading_the_rows(db):
    shown = preview(db, b"name,plan\nAcme,pro\n", Kind.ACCOUNTS)
    assert not shown.checked
    assert [str(p) for p in shown.problems] == [
        "no column holds the account id: map one to external_id"
    ]
    assert shown.blocked.startswith("fix the 1 problem listed above first")


def test_json_lines_are_counted_by_line(db):
    lines = jsonl({"external_id": "acme"}, {"external_id": "globex"})
    lines = io.BytesIO(lines.getvalue().replace(b"\n", b"\n\n", 1))
    shown = preview(db, lines, Kind.ACCOUNTS)
    assert (shown.unit, shown.rows, shown.found, shown.result.created) == ("line", 2, 2, 2)


def test_a_file_without_records_cannot_be_imported(db):
    shown = preview(db, b"external_id,name\n\n", Kind.ACCOUNTS)
    assert (shown.rows, shown.found, shown.problems) == (0, 0, [])
    assert shown.blocked == "the file holds no accounts, so there is nothing to import"


def test_a_preview_streams_the_file(db):
    rows = b"".join(b"a-%d,Account %d\n" % (n, n) for n in range(2_000))
    shown = preview(db, NoWholeReads(b"external_id,name\n" + rows), Kind.ACCOUNTS)
    assert (shown.rows, shown.found, shown.total_problems) == (2_000, 2_000, 0)
    assert count(db, Account) == 0
