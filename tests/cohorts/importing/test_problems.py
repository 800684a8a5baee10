"""Problems: the first 50 are listed, all are counted."""

from __future__ import annotations

from cohorts.importing import Kind, import_file
from tests.cohorts.importing.files import csv_file, failure


def test_at_most_50_problems_are_listed_but_all_are_counted(db, unchanged):
    content = "external_id,name\n" + "".join(f",Account {n}\n" for n in range(60))
    with unchanged():
        exc = failure(lambda: import_file(db, csv_file(content), Kind.ACCOUNTS))
    assert len(exc.problems) == len(exc.details) == 50
    assert exc.total == 60
    assert exc.message == "Nothing was imported: 60 problems found; the first 50 are listed."
    assert exc.details[-1]["row"] == 51
