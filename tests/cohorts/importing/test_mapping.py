"""Column mapping: guessed from common names, chosen, refused when a field or column is amiss."""

from __future__ import annotations

from cohorts import importing
from cohorts.importing import Kind, import_file
from tests.cohorts.importing.files import accounts_by_id, csv_file, failure, messages


def test_columns_are_guessed_from_common_names(db, accounts):
    content = (
        "Conversation ID;Account ID;From;Message;Timestamp;Labels;Subject\n"
        "c-1;acme;customer;Hello;2026-10-02T10:00:00Z;a,b;ignored\n"
    )
    assert importing.guess_mapping(Kind.CONVERSATIONS, content.split("\n")[0].split(";")) == {
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


def test_a_mapping_that_misses_a_field_or_names_no_column_is_refused(db, unchanged):
    content = b"ref,name\nx-1,Ana\n"
    with unchanged():
        exc = failure(lambda: import_file(db, csv_file(content), Kind.ACCOUNTS, {"reff": "name"}))
    assert messages(exc) == [
        "there is no column 'reff'; the columns are: ref, name",
        "no column holds the account id: map one to external_id",
    ]
    with unchanged():
        exc = failure(
            lambda: import_file(
                db, csv_file(content), Kind.ACCOUNTS, {"ref": "external_id", "name": "id"}
            )
        )
    assert messages(exc)[0].startswith("'id' is not a field of accounts")
