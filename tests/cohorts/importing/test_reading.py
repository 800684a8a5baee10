"""Reading files: a BOM, delimiters, encodings, JSON Lines, and empty files."""

from __future__ import annotations

import io

from cohorts.importing import Kind, import_file
from cohorts.models import Account
from tests.cohorts.importing.files import (
    accounts_by_id,
    count,
    csv_file,
    failure,
    messages,
)


def test_a_bom_and_semicolons_are_read(db):
    content = "\ufeffAccount ID;Name;Plan\nacme;Acme, Inc.;pro\n".encode()
    assert import_file(db, csv_file(content), Kind.ACCOUNTS).created == 1
    acme = accounts_by_id(db)["acme"]
    assert (acme.name, acme.attributes) == ("Acme, Inc.", {"Plan": "pro"})


def test_tabs_are_read(db):
    import_file(db, csv_file(b"id\tname\tregion\nacme\tAcme; Inc\tapac\n"), Kind.ACCOUNTS)
    acme = accounts_by_id(db)["acme"]
    assert (acme.name, acme.attributes) == ("Acme; Inc", {"region": "apac"})


def test_a_file_in_another_encoding_is_refused_with_a_clear_message(db, unchanged):
    content = "external_id,name\nacme,Acme\nzurich,Zürich AG\n".encode("latin-1")
    with unchanged():
        exc = failure(lambda: import_file(db, csv_file(content), Kind.ACCOUNTS))
    assert messages(exc) == ["the file is not UTF-8 (near row 3): save it as UTF-8 and try again"]
    assert count(db, Account) == 0


def test_bad_json_lines_name_the_line_and_key(db, accounts, unchanged):
    lines = io.BytesIO(
        b'{"external_id": "c-1", "account": "acme", "parts": [{"author": "alien", '
        b'"body": "Hi", "created_at": "2026-10-02"}]}\n'
        b"not json\n"
    )
    with unchanged():
        exc = failure(lambda: import_file(db, lines, Kind.CONVERSATIONS))
    assert messages(exc)[0] == (
        "line 1, key parts.0.author: unknown author 'alien': use customer, teammate or bot"
    )
    assert messages(exc)[1].startswith("line 2: not valid JSON")


def test_an_empty_file_is_refused(db, unchanged):
    with unchanged():
        exc = failure(lambda: import_file(db, csv_file(b"\xef\xbb\xbf \n"), Kind.ACCOUNTS))
    assert messages(exc) == ["the file is empty"]
