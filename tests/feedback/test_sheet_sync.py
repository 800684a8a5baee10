"""The relay: feedback written to the sheet by id, RAW, in a few requests; edits taken back."""

from betas.audit import Actor
from feedback import log
from feedback.models import OutboxEntry, SheetConflict, SheetRow
from tests.feedback.helpers import SPREADSHEET, TYPES, by_id, column


def logged(db, pm, beta, original="Reports are slow.", **codes):
    return log.log(db, Actor(pm), beta, account="acme", original=original, types=TYPES, **codes)


def test_first_sync_writes_every_item_raw_in_four_requests_at_most(
    db, pm, beta, acme, linked, fake, run_sync
):
    items = [logged(db, pm, beta, f"Item {n}") for n in range(3)]
    formula = logged(db, pm, beta, '=HYPERLINK("http://evil.example","click")')
    fake.reset_counts()

    [report] = run_sync()

    assert report.error is None and report.appended == 4
    assert fake.count() <= 4
    rows = by_id(fake)
    assert set(rows) == {str(i.id) for i in [*items, formula]}
    assert rows[str(formula.id)][column(fake, "original")] == formula.original
    assert {w["option"] for w in fake.writes} == {"RAW"}
    assert db.query(OutboxEntry).count() == 0


def test_a_second_sync_with_nothing_new_writes_nothing(db, pm, beta, acme, linked, fake, run_sync):
    logged(db, pm, beta)
    run_sync()
    fake.reset_counts()

    [report] = run_sync()

    assert report.appended == report.written == 0
    assert fake.kinds()["values_batch_update"] == 0


def sheet_rows(fake):
    return fake.sheet(SPREADSHEET).rows


def test_rows_are_found_by_id_after_people_sort_and_insert_rows_and_add_columns(
    db, pm, beta, acme, linked, fake, run_sync, sheet_settings
):
    first, second = logged(db, pm, beta, "First"), logged(db, pm, beta, "Second")
    run_sync()
    rows = sheet_rows(fake)
    rows[1], rows[2] = rows[2], rows[1]  # people sorted the sheet
    rows.insert(2, [])  # and left an empty row between
    for row in rows:  # and added a column of their own between Shipcall's
        row.insert(3, "")
    rows[0][3] = "Owner notes"
    rows[1][3] = "call them"
    log.edit(db, Actor(pm), first, {"summary": "Slow reports"}, types=TYPES)
    db.flush()

    [report] = run_sync()

    assert report.error is None and report.written == 1 and report.appended == 0
    got = by_id(fake)
    assert got[str(first.id)][column(fake, "summary")] == "Slow reports"
    assert got[str(second.id)][column(fake, "summary")] == ""
    assert sheet_rows(fake)[0][3] == "Owner notes" and sheet_rows(fake)[1][3] == "call them"
    assert len(got) == 2


def test_edits_in_the_sheet_come_back_audited_as_made_there(
    db, pm, beta, acme, linked, fake, run_sync
):
    item = logged(db, pm, beta)
    run_sync()
    row = next(r for r in sheet_rows(fake) if r and r[0] == str(item.id))
    row[column(fake, "type")] = "Usability"
    row[column(fake, "summary")] = "Reports load slowly"
    row[column(fake, "reason")] = "Big accounts"

    [report] = run_sync()

    assert report.pulled == 3
    assert (item.type, item.summary, item.reason) == (
        "usability",
        "Reports load slowly",
        "Big accounts",
    )
    history = log.item_history(db, item)
    assert history[0].action == "feedback.changed_in_sheet" and history[0].user is None
    assert db.query(SheetConflict).count() == 0


def test_a_field_changed_on_both_sides_is_a_conflict_a_pm_settles(
    db, pm, beta, acme, linked, fake, run_sync
):
    from feedback.sheet_links import settle_conflict

    item = logged(db, pm, beta, summary="Slow")
    run_sync()
    row = next(r for r in sheet_rows(fake) if r and r[0] == str(item.id))
    row[column(fake, "summary")] = "Slow for big teams"
    log.edit(db, Actor(pm), item, {"summary": "Slow on Mondays"}, types=TYPES)
    db.flush()

    [report] = run_sync()

    assert report.conflicts == 1
    [conflict] = db.query(SheetConflict).all()
    assert (conflict.field, conflict.ours, conflict.theirs) == (
        "summary",
        "Slow on Mondays",
        "Slow for big teams",
    )
    assert item.summary == "Slow on Mondays"  # neither side won silently
    assert row[column(fake, "summary")] == "Slow for big teams"

    settle_conflict(db, Actor(pm), conflict.id, "sheet", types=TYPES)
    db.flush()
    [report] = run_sync()

    assert report.conflicts == 0 and item.summary == "Slow for big teams"
    assert by_id(fake)[str(item.id)][column(fake, "summary")] == "Slow for big teams"
    [report] = run_sync()
    assert report.conflicts == 0 and report.pulled == 0


def test_rows_people_add_become_items_and_get_their_id_and_unmatched_rows_are_listed(
    db, pm, beta, acme, linked, fake, run_sync
):
    run_sync()
    header = sheet_rows(fake)[0]

    def added(**cells):
        row = [""] * len(header)
        for name, value in cells.items():
            row[header.index(name.replace("_", " "))] = value
        sheet_rows(fake).append(row)

    added(account="Acme Ltd", original="Exports break.", type="blocker")
    added(account="nobody", original="Who am I?")
    fake.reset_counts()

    [report] = run_sync()

    assert report.created == 1 and fake.count() <= 4
    item = db.query(log.FeedbackItem).filter_by(original="Exports break.").one()
    assert item.account == acme and item.blocker_state.value == "open"
    assert sheet_rows(fake)[1][header.index("id")] == str(item.id)
    assert [u["row"] for u in report.unmatched] == [3]
    assert "nobody" in report.unmatched[0]["message"]
    assert linked.unmatched == report.unmatched

    [again] = run_sync()
    assert again.created == 0
    assert db.query(log.FeedbackItem).filter_by(original="Exports break.").count() == 1


def test_a_row_deleted_in_the_sheet_is_reported_not_readded_and_can_be_restored(
    db, pm, beta, acme, linked, fake, run_sync
):
    from feedback.sheet_links import restore_row

    kept, gone = logged(db, pm, beta, "Kept"), logged(db, pm, beta, "Gone")
    run_sync()
    rows = sheet_rows(fake)
    rows[:] = [r for r in rows if not (r and r[0] == str(gone.id))]
    log.edit(db, Actor(pm), gone, {"summary": "Changed meanwhile"}, types=TYPES)
    db.flush()

    [report] = run_sync()

    assert report.missing == 1 and str(gone.id) not in by_id(fake)
    assert db.get(log.FeedbackItem, gone.id) is not None
    row = db.query(SheetRow).filter_by(feedback_item_id=gone.id).one()
    assert row.missing_since is not None

    restore_row(db, Actor(pm), gone)
    db.flush()
    [report] = run_sync()
    assert report.missing == 0 and by_id(fake)[str(gone.id)][column(fake, "summary")] == (
        "Changed meanwhile"
    )
    assert str(kept.id) in by_id(fake)


def test_a_renamed_worksheet_is_still_found_by_its_id(db, pm, beta, acme, linked, fake, run_sync):
    fake.sheet(SPREADSHEET).title = "Our feedback"
    item = logged(db, pm, beta)

    [report] = run_sync()

    assert report.error is None and linked.worksheet == "Our feedback"
    assert fake.spreadsheets[SPREADSHEET].sheet("Our feedback").values()[1][0] == str(item.id)


def test_a_header_without_its_id_column_stops_the_sync_with_a_clear_error(
    db, pm, beta, acme, linked, fake, run_sync
):
    logged(db, pm, beta)
    run_sync()
    fake.sheet(SPREADSHEET).rows[0][0] = "number"
    logged(db, pm, beta, "Another")

    [report] = run_sync()

    assert "lost its id column" in report.error
    assert db.query(OutboxEntry).count() == 1
