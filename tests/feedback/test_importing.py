"""Importing a feedback sheet kept by hand: CSV or XLSX, mapped, checked by row, all or nothing."""

import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import func, select

from betas.audit import Actor
from betas.errors import Conflict, Forbidden
from betas.models import AuditEntry, BetaState, Role
from cohorts.importing import ImportFailed, Origin
from cohorts.models import ImportRun
from feedback import importing
from feedback.models import FeedbackItem, Source
from tests.feedback.helpers import TYPES

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
SHEET = (
    "Original feedback or comment,Type,Summary,Reason,Account,Date\n"
    '"Where is CSV export? =1+1",feature_request,Wants CSV,Export to CSV,acme,2026-10-02\n'
    "It crashed on a big inbox,blocker,Crash,Big inbox,Acme Ltd,2026-10-03T14:30:00Z\n"
    ",,,,,\n"
    "Just words,,,,acme,\n"
)


def csv_file(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


def xlsx_file(rows) -> io.BytesIO:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    for line in workbook.active.iter_rows():
        for cell in line:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text that looks like a formula, as a sheet can hold
    out = io.BytesIO()
    workbook.save(out)
    out.seek(0)
    return out


def run(db, actor, beta, stream, chosen=None, file_name="feedback.csv"):
    return importing.import_feedback(
        db,
        actor,
        beta,
        stream,
        chosen,
        types=TYPES,
        zone=PARIS,
        now=NOW,
        origin=Origin.page(actor, file_name) if actor else Origin.command_line(file_name),
    )


def items(db):
    db.expire_all()
    return list(db.scalars(select(FeedbackItem).order_by(FeedbackItem.id)))


def test_a_csv_sheet_becomes_items_logged_when_it_says(db, beta, pm, acme):
    result = run(db, Actor(pm), beta, csv_file(SHEET))

    assert (result.created, result.updated) == (3, 0)
    first, second, raw = items(db)
    assert first.original == "Where is CSV export? =1+1"
    assert (first.type, first.summary, first.reason, first.account) == (
        "feature_request", "Wants CSV", "Export to CSV", acme
    )  # fmt: skip
    assert first.source == Source.OTHER
    assert first.logged_at == datetime(2026, 10, 1, 22, 0, tzinfo=UTC)  # midnight in Paris
    assert first.cohort is not None and first.logged_by == pm
    assert second.account == acme  # found by its name
    assert second.logged_at == datetime(2026, 10, 3, 14, 30, tzinfo=UTC)
    assert second.blocker_state.value == "open"
    assert not raw.codified and raw.logged_at > second.logged_at  # no date: logged now
    run_row = db.scalar(select(ImportRun))
    assert (run_row.kind, run_row.created, run_row.file_name) == ("feedback", 3, "feedback.csv")
    actions = db.scalars(
        select(AuditEntry.action).where(AuditEntry.beta == beta).order_by(AuditEntry.id)
    ).all()
    assert actions == ["feedback.logged"] * 3 + ["feedback.imported"]


def test_an_xlsx_sheet_imports_with_its_dates_and_a_mapped_source(db, beta, pm, acme):
    stream = xlsx_file(
        [
            ["What they said", "Kind", "Summary", "Why", "Customer", "When", "Channel"],
            ["Love it", "praise", "Likes it", "Saves time", "acme", datetime(2026, 10, 2), "call"],
            ["=SUM(A1)", None, None, None, "acme", None, "email"],
        ]
    )
    result = run(db, Actor(pm), beta, stream, {"What they said": "original"})

    assert result.created == 2
    liked, formula = items(db)
    assert (liked.type, liked.reason, liked.source) == ("praise", "Saves time", Source.CALL)
    assert liked.logged_at == datetime(2026, 10, 1, 22, 0, tzinfo=UTC)
    assert formula.original == "=SUM(A1)" and formula.source == Source.EMAIL


def test_the_command_line_imports_a_file_as_no_one(runner, db, beta, acme, tmp_path):
    path = tmp_path / "kept.csv"
    path.write_text(SHEET, encoding="utf-8")

    result = runner.invoke(args=["feedback", "import", beta.key, str(path)])

    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(f"Imported 3 feedback items into {beta.key}.")
    logged = items(db)
    assert len(logged) == 3 and logged[0].logged_by is None
    assert db.scalar(select(ImportRun)).via.value == "command_line"


def test_the_command_line_lists_the_problems_by_row_and_column(
    runner, beta, acme, tmp_path, unchanged
):
    path = tmp_path / "kept.csv"
    path.write_text("Feedback,Who,Type\nHi,nobody,rant\n", encoding="utf-8")
    with unchanged():
        result = runner.invoke(
            args=["feedback", "import", beta.key, str(path), "--map", "Who=account"]
        )
    assert result.exit_code == 1
    assert "row 2, column Type: Choose a type among" in result.output
    assert "row 2, column Who: no account has the id or name 'nobody'" in result.output
    assert "Nothing was imported: 2 problems found." in result.output


def test_the_command_line_refuses_an_unknown_beta_and_a_bad_map(runner, tmp_path, unchanged):
    path = tmp_path / "kept.csv"
    path.write_text(SHEET, encoding="utf-8")
    with unchanged():
        missing = runner.invoke(args=["feedback", "import", "nope", str(path)])
        bad_map = runner.invoke(args=["feedback", "import", "nope", str(path), "--map", "x"])
    assert missing.exit_code == 1 and "nope" in missing.output
    assert bad_map.exit_code == 2 and "'x' is not COLUMN=FIELD" in bad_map.output


BAD_ROWS = [
    ("Original,Account\n,acme\n", "row 2, column Original: Paste what the customer said"),
    ("Original,Account\nHi,\n", "row 2, column Account: name the account"),
    ("Original,Account\nHi,nobody\n", "row 2, column Account: no account has the id or name"),
    ("Original,Account,Type\nHi,acme,rant\n", "row 2, column Type: Choose a type among"),
    ("Original,Account,Source\nHi,acme,pigeon\n", "row 2, column Source: Choose a source"),
    ("Original,Account,Date\nHi,acme,02/10/2026\n", "row 2, column Date: cannot read the date"),
    ("Original,Account,Date\nHi,acme,2027-01-01\n", "row 2, column Date: '2027-01-01' is in the"),
    ("Original,Account,Summary\nHi,acme," + "x" * 2001 + "\n", "row 2, column Summary: At most"),
    ("Original,Account\n" + "x" * 20_001 + ",acme\n", "row 2, column Original: At most 20,000"),
    ("Original,Account\nHi\x00,acme\n", "row 2, column Original: It holds a NUL"),
    ("Account\nacme\n", "no column holds the original feedback or comment: map one to original"),
    ("Original,Original,Account\na,b,acme\n", "row 1: the header names the column 'Original'"),
    ("", "the file is empty"),
    ('{"original": "Hi"}\n', "this is JSON: save the table as CSV or XLSX instead"),
    ("Original,Account\n\xff,acme\n", "the file is not UTF-8"),
    ("Original,Account\n,\n", "nothing to import: no row (or item) holds feedback"),
]


@pytest.mark.parametrize(("content", "said"), BAD_ROWS)
def test_a_bad_file_is_refused_naming_row_and_column_and_logs_nothing(
    db, beta, pm, acme, unchanged, content, said
):
    raw = content.encode("latin-1") if "\xff" in content else content.encode()
    with unchanged(), pytest.raises(ImportFailed) as refused:
        run(db, Actor(pm), beta, io.BytesIO(raw))
    assert any(said in str(p) for p in refused.value.problems), refused.value.problems


def test_a_name_two_accounts_share_is_refused_for_the_id(
    db, beta, pm, acme, make_account, unchanged
):
    make_account("acme-2", "Acme Ltd")
    with unchanged(), pytest.raises(ImportFailed) as refused:
        run(db, Actor(pm), beta, csv_file("Original,Account\nHi,acme ltd\n"))
    assert str(refused.value.problems[0]) == (
        "row 2, column Account: several accounts are named 'acme ltd': give the account's id"
    )


def test_one_bad_row_among_good_ones_logs_none_of_them(db, beta, pm, acme, unchanged):
    sheet = "Original,Account,Type\nFine,acme,praise\nAlso fine,acme,\nBad,acme,rant\n"
    with unchanged(), pytest.raises(ImportFailed) as refused:
        run(db, Actor(pm), beta, csv_file(sheet))
    assert [(p.row, p.column) for p in refused.value.problems] == [(4, "Type")]


def test_a_workbook_that_is_not_one_is_refused(db, beta, pm, acme, unchanged):
    with unchanged(), pytest.raises(ImportFailed) as refused:
        run(db, Actor(pm), beta, io.BytesIO(b"PK\x03\x04 not really a zip"))
    assert "cannot read this file as an XLSX workbook" in str(refused.value.problems[0])


def test_only_the_owner_and_admins_import(db, beta, acme, make_user, unchanged):
    for user in (make_user(Role.VIEWER), make_user(Role.PM)):
        with unchanged(), pytest.raises(Forbidden):
            run(db, Actor(user), beta, csv_file(SHEET))
    assert run(db, Actor(make_user(Role.ADMIN)), beta, csv_file(SHEET)).created == 3


def test_a_draft_takes_no_import(db, make_beta, pm, acme, unchanged):
    draft = make_beta(owner=pm, key="draft")
    assert draft.state == BetaState.DRAFT
    with unchanged(), pytest.raises(Conflict):
        run(db, Actor(pm), draft, csv_file(SHEET))


def test_the_preview_checks_every_row_and_writes_nothing(db, beta, acme, unchanged):
    sheet = SHEET + "Bad,,,,nobody,\n"
    with unchanged():
        shown = importing.preview(
            db, beta, csv_file(sheet), types=TYPES, zone=PARIS, now=NOW, limit=2
        )
    assert shown.checked and (shown.rows, shown.found, len(shown.records)) == (4, 4, 2)
    assert [str(p) for p in shown.problems] == [
        "row 6, column Account: no account has the id or name 'nobody'"
    ]
    assert "fix the 1 problem" in shown.blocked
    assert shown.mapping["Original feedback or comment"] == "original"
    assert shown.records[1].account == "acme" and shown.records[1].account_name == "Acme Ltd"
    assert db.scalar(select(func.count()).select_from(FeedbackItem)) == 0


def test_types_and_sources_are_read_as_people_write_them(db, beta, pm, acme):
    sheet = (
        "Original,Account,Type,Source\n"
        "A,acme,Feature request,In app\n"
        "B,acme,  USABILITY ,Call\n"
        "C,acme,feature-request,\n"
    )
    assert run(db, Actor(pm), beta, csv_file(sheet)).created == 3
    assert [(i.type, i.source.value) for i in items(db)] == [
        ("feature_request", "in_app"),
        ("usability", "call"),
        ("feature_request", "other"),
    ]
