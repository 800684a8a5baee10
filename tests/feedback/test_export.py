"""Exporting the codified log: CSV and XLSX, values never turned into formulas."""

import csv
import io
import zipfile

from openpyxl import load_workbook

from betas.audit import Actor
from betas.models import Role
from feedback import log
from tests.feedback.helpers import TYPES

FORMULA = '=HYPERLINK("http://evil.example","click")'


def coded(db, beta, user, original, **codes):
    codes = {"type": "question", "summary": "How?", "reason": "Docs", **codes}
    return log.log(db, Actor(user), beta, account="acme", original=original, types=TYPES, **codes)


def test_the_csv_holds_the_codified_items_with_formulas_quoted(
    db, client, make_user, login, beta, acme, pm
):
    coded(db, beta, pm, FORMULA, summary="+1 more", reason="@everyone")
    log.log(db, Actor(pm), beta, account="acme", original="Raw, not coded", types=TYPES)
    login(make_user(Role.VIEWER))

    response = client.get(f"/betas/{beta.key}/feedback.csv")

    assert response.status_code == 200 and response.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert table[0][:3] == ["id", "logged at", "account"]
    assert len(table) == 2
    row = dict(zip(table[0], table[1], strict=True))
    assert row["original"] == "'" + FORMULA
    assert (row["summary"], row["reason"], row["cohort"]) == ("'+1 more", "'@everyone", "early")


def test_the_xlsx_writes_formula_looking_text_as_strings(
    db, client, make_user, login, beta, acme, pm
):
    coded(db, beta, pm, FORMULA + "\x01", summary="-2", reason="=1+1")
    login(make_user(Role.VIEWER))

    response = client.get(f"/betas/{beta.key}/feedback.xlsx")

    assert response.status_code == 200
    body = response.get_data()
    sheet_xml = zipfile.ZipFile(io.BytesIO(body)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml
    sheet = load_workbook(io.BytesIO(body))["Feedback"]
    header, first = ([c for c in row] for row in sheet.iter_rows(max_row=2))
    cells = {h.value: c for h, c in zip(header, first, strict=True)}
    assert cells["original"].value == FORMULA  # the control character XML cannot hold is dropped
    assert (cells["summary"].value, cells["reason"].value) == ("-2", "=1+1")
    assert {c.data_type for c in first} <= {"s", "inlineStr"}  # strings, never "f"


def test_the_export_runs_as_many_statements_whatever_its_rows(
    db, client, make_user, login, beta, acme, pm, count_queries
):
    login(make_user(Role.VIEWER))
    coded(db, beta, pm, "One")
    client.get(f"/betas/{beta.key}/feedback.csv")
    with count_queries() as few:
        client.get(f"/betas/{beta.key}/feedback.csv")
    for n in range(20):
        coded(db, beta, pm, f"More {n}")
    with count_queries() as many:
        client.get(f"/betas/{beta.key}/feedback.csv")
    assert many.n == few.n
