"""XLSX workbooks read as tables: their first sheet's rows, numbered as the sheet numbers them."""

import io
from datetime import datetime

import openpyxl
import pytest
from sqlalchemy import select

from cohorts import importing
from cohorts.importing import Kind
from cohorts.models import Account


def workbook(*rows) -> io.BytesIO:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return out


def test_accounts_import_from_a_workbook_with_its_cells_as_text(db):
    stream = workbook(
        ["Account ID", "Name", "Seats", "Since"],
        [1042, "Acme", 12.0, datetime(2026, 10, 2)],
        [],
        ["globex", "Globex", 3.5, datetime(2026, 10, 2, 9, 30)],
    )
    result = importing.import_file(db, stream, Kind.ACCOUNTS)

    assert (result.created, result.updated) == (2, 0)
    accounts = {a.external_id: a for a in db.scalars(select(Account))}
    assert accounts["1042"].attributes == {"Seats": 12, "Since": "2026-10-02"}
    assert accounts["globex"].attributes == {"Seats": 3.5, "Since": "2026-10-02T09:30:00"}


def test_a_workbook_row_is_named_by_its_number_in_the_sheet(db, unchanged):
    stream = workbook(["Account ID", "Name"], ["acme", "Acme"], [], [None, "No id"])
    with unchanged(), pytest.raises(importing.ImportFailed) as refused:
        importing.import_file(db, stream, Kind.ACCOUNTS)
    assert [(p.row, p.column) for p in refused.value.problems] == [(4, "Account ID")]
