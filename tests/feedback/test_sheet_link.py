"""Linking a beta's spreadsheet on every door: access checked, header written, launch required."""

import pytest
from sqlalchemy import select

from betas.audit import Actor
from betas.db import get_session
from betas.errors import Forbidden, Invalid
from betas.models import BetaState, Role
from feedback import log, sheet_links
from feedback.models import OutboxEntry, SheetLink
from feedback.sheet_links import HEADER, WORKSHEET, check_sheet, link_sheet
from tests.feedback.helpers import SHEET_URL, SPREADSHEET, TYPES
from tests.helpers import assert_error


def test_linking_creates_the_worksheet_writes_and_freezes_the_header(db, beta, pm, fake, sheets):
    fake.add_spreadsheet(SPREADSHEET, shared_with=sheets.email)

    link = link_sheet(db, Actor(pm), beta, check_sheet(SHEET_URL, sheets))

    sheet = fake.sheet(SPREADSHEET, WORKSHEET)
    assert sheet.values() == [list(HEADER)] and sheet.frozen_rows == 1
    assert (link.spreadsheet_id, link.worksheet, link.sheet_id) == (
        SPREADSHEET,
        WORKSHEET,
        sheet.sheet_id,
    )
    assert {w["option"] for w in fake.writes} == {"RAW"}


def test_linking_an_existing_worksheet_keeps_peoples_columns(db, beta, pm, fake, sheets):
    book = fake.add_spreadsheet(SPREADSHEET, shared_with=sheets.email)
    fake_sheet = book.sheets[0]
    fake_sheet.title = WORKSHEET
    fake_sheet.rows = [["id", "Notes", "summary"]]

    link_sheet(db, Actor(pm), beta, check_sheet(SPREADSHEET, sheets))

    header = fake.sheet(SPREADSHEET).values()[0]
    assert header[:3] == ["id", "Notes", "summary"]
    assert set(HEADER) <= set(header) and len(header) == len(HEADER) + 1


@pytest.mark.parametrize(
    ("arrange", "said"),
    [
        (lambda fake, email: None, "No spreadsheet has the key"),
        (lambda fake, email: fake.add_spreadsheet(SPREADSHEET), "is not shared with"),
        (
            lambda fake, email: fake.add_spreadsheet(SPREADSHEET, shared_with=email, role="reader"),
            "may only view the spreadsheet",
        ),
    ],
    ids=["not found", "not shared", "view only"],
)
def test_each_access_problem_is_said_plainly_and_nothing_is_linked(
    db, beta, pm, fake, sheets, unchanged, arrange, said
):
    arrange(fake, sheets.email)
    with unchanged(), pytest.raises(Invalid) as refused:
        check_sheet(SPREADSHEET, sheets)
    assert said in refused.value.message
    assert refused.value.details[0]["field"] == "spreadsheet"


def test_a_text_that_names_no_spreadsheet_is_refused(db, sheets, unchanged):
    with unchanged(), pytest.raises(Invalid, match="link"):
        check_sheet("https://example.com/not-a-sheet", sheets)


def test_only_the_owner_or_an_admin_links(db, beta, make_user, fake, sheets, unchanged):
    fake.add_spreadsheet(SPREADSHEET, shared_with=sheets.email)
    checked = check_sheet(SPREADSHEET, sheets)
    other_pm = make_user(Role.PM)
    with unchanged(), pytest.raises(Forbidden):
        link_sheet(db, Actor(other_pm), beta, checked)


def test_a_change_is_queued_in_the_same_transaction_only_for_linked_betas(
    db, pm, beta, acme, linked, running_beta, make_account
):
    item = log.log(db, Actor(pm), beta, account="acme", original="Hi.", types=TYPES)
    other = running_beta(owner=pm)
    log.log(db, Actor(pm), other, account="acme", original="Elsewhere.", types=TYPES)
    db.flush()
    assert [e.feedback_item_id for e in db.scalars(select(OutboxEntry))] == [item.id]

    log.edit(db, Actor(pm), item, {"summary": "Greeting"}, types=TYPES)
    db.flush()
    assert db.query(OutboxEntry).filter_by(feedback_item_id=item.id).count() == 2

    savepoint = db.begin_nested()
    log.edit(db, Actor(pm), item, {"reason": "Polite"}, types=TYPES)
    db.flush()
    savepoint.rollback()
    assert db.query(OutboxEntry).filter_by(feedback_item_id=item.id).count() == 2


def test_with_credentials_a_draft_cannot_launch_without_a_linked_sheet(
    db, client, login, post, make_beta, pm, fake, sheets
):
    draft = make_beta(owner=pm)
    login(pm)
    response = post(f"/betas/{draft.key}/launch")
    db.refresh(draft)
    assert draft.state == BetaState.DRAFT
    page = client.get(f"/betas/{draft.key}").get_data(as_text=True)
    assert "Link the feedback spreadsheet" in page
    assert response.status_code in (302, 409, 422)

    fake.add_spreadsheet(SPREADSHEET, shared_with=sheets.email)
    link_sheet(db, Actor(pm), draft, check_sheet(SPREADSHEET, sheets))
    db.flush()
    post(f"/betas/{draft.key}/launch")
    db.refresh(draft)
    assert draft.state == BetaState.RUNNING


def test_without_credentials_launching_needs_no_sheet_and_the_page_says_how_to_connect(
    db, client, login, post, make_beta, pm
):
    draft = make_beta(owner=pm)
    login(pm)
    assert "Link the feedback spreadsheet" not in client.get(f"/betas/{draft.key}").get_data(
        as_text=True
    )
    page = client.get(f"/betas/{draft.key}/sheet").get_data(as_text=True)
    assert "SHIPCALL_GOOGLE_CREDENTIALS" in page and "link-form" not in page
    post(f"/betas/{draft.key}/launch")
    db.refresh(draft)
    assert draft.state == BetaState.RUNNING


# The page


def test_the_page_names_the_account_to_share_with_and_links_the_sheet(
    db, client, login, post, beta, pm, fake, sheets
):
    login(pm)
    page = client.get(f"/betas/{beta.key}/sheet").get_data(as_text=True)
    assert sheets.email in page and 'id="link-form"' in page
    fake.add_spreadsheet(SPREADSHEET, shared_with=sheets.email)

    response = post(f"/betas/{beta.key}/sheet/link", {"spreadsheet": SHEET_URL})

    assert response.status_code == 302 and response.location.endswith("#sync")
    assert db.scalar(select(SheetLink)).spreadsheet_id == SPREADSHEET
    assert "Pending changes" in client.get(f"/betas/{beta.key}/sheet").get_data(as_text=True)


def test_a_refused_link_keeps_what_was_typed_and_says_why(
    db, client, login, post, beta, pm, fake, sheets, unchanged
):
    login(pm)
    typed = "  <b>my sheet</b>  "
    with unchanged():
        response = post(f"/betas/{beta.key}/sheet/link", {"spreadsheet": typed})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "&lt;b&gt;" in page and "Give the spreadsheet" in page

    with unchanged():
        response = post(f"/betas/{beta.key}/sheet/link", {"spreadsheet": SPREADSHEET})
    assert response.status_code == 422 and "No spreadsheet has the key" in response.get_data(
        as_text=True
    )


def test_a_viewer_sees_the_sheet_but_cannot_link_it(
    db, client, login, post, beta, make_user, sheet_settings, unchanged
):
    login(make_user(Role.VIEWER))
    assert 'id="link-form"' not in client.get(f"/betas/{beta.key}/sheet").get_data(as_text=True)
    with unchanged():
        assert (
            post(f"/betas/{beta.key}/sheet/link", {"spreadsheet": SPREADSHEET}).status_code == 403
        )


def test_the_beta_page_shows_the_sync_state(
    db, client, login, pm, beta, acme, linked, fake, run_sync
):
    log.log(db, Actor(pm), beta, account="acme", original="Hi.", types=TYPES)
    db.flush()
    login(pm)
    page = client.get(f"/betas/{beta.key}").get_data(as_text=True)
    assert "1 change pending" in page and "last synced not yet" in page

    fake.fail(3, status=500)
    run_sync()
    page = client.get(f"/betas/{beta.key}").get_data(as_text=True)
    assert "last error: Google Sheets failed (500)" in page and "next try" in page


def test_a_pm_settles_a_conflict_and_restores_a_deleted_row_from_the_pages(
    db, client, login, post, pm, beta, acme, linked, fake, run_sync
):
    item = log.log(db, Actor(pm), beta, account="acme", original="Hi.", types=TYPES, summary="A")
    run_sync()
    rows = fake.sheet(SPREADSHEET).rows
    summary = rows[0].index("summary")
    rows[1][summary] = "From the sheet"
    log.edit(db, Actor(pm), item, {"summary": "From Shipcall"}, types=TYPES)
    db.flush()
    run_sync()
    login(pm)
    page = client.get(f"/feedback/{item.id}").get_data(as_text=True)
    assert "From the sheet" in page and "From Shipcall" in page and "Keep the sheet" in page

    from feedback.models import SheetConflict

    conflict = db.scalar(select(SheetConflict))
    response = post(f"/feedback/conflicts/{conflict.id}", {"side": "shipcall"})
    assert response.status_code == 302 and response.location.endswith("#sheet")
    db.expire_all()
    assert db.scalar(select(SheetConflict)) is None and item.summary == "From Shipcall"
    run_sync()
    assert fake.sheet(SPREADSHEET).rows[1][summary] == "From Shipcall"

    del fake.sheet(SPREADSHEET).rows[1]
    run_sync()
    assert "Restore the row" in client.get(f"/betas/{beta.key}/sheet").get_data(as_text=True)
    response = post(f"/feedback/{item.id}/restore-row")
    assert response.location.endswith("#deleted")
    run_sync()
    assert fake.sheet(SPREADSHEET).rows[1][0] == str(item.id)


def test_settling_with_a_bad_side_changes_nothing(
    db, client, login, post, pm, beta, acme, linked, unchanged
):
    login(pm)
    with unchanged():
        response = post("/feedback/conflicts/999999", {"side": "both"})
    assert response.status_code == 404


# The API and the command line


def test_the_api_links_a_sheet_and_reads_its_state(db, client, beta, pm, bearer, fake, sheets):
    headers = bearer(pm, ("betas:read", "betas:write"))
    fake.add_spreadsheet(SPREADSHEET, shared_with=sheets.email)

    response = client.put(
        f"/api/v1/betas/{beta.key}/sheet", json={"spreadsheet": SHEET_URL}, headers=headers
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {
        "spreadsheet_id": SPREADSHEET,
        "worksheet": WORKSHEET,
        "service_account": sheets.email,
    }
    state = client.get(f"/api/v1/betas/{beta.key}/sheet", headers=headers).get_json()
    assert state["pending"] == 0 and state["last_success_at"] is None
    assert state["last_error"] is None and state["spreadsheet_id"] == SPREADSHEET


def test_the_api_refuses_bad_input_and_inaccessible_sheets(
    db, client, beta, pm, bearer, fake, sheets, unchanged
):
    headers = bearer(pm, ("betas:read", "betas:write"))
    with unchanged():
        assert_error(
            client.put(f"/api/v1/betas/{beta.key}/sheet", json={}, headers=headers),
            422,
            "validation_failed",
        )
        assert_error(
            client.put(f"/api/v1/betas/{beta.key}/sheet", json={"spreadsheet": 3}, headers=headers),
            422,
            "validation_failed",
        )
        error = assert_error(
            client.put(
                f"/api/v1/betas/{beta.key}/sheet",
                json={"spreadsheet": SPREADSHEET},
                headers=headers,
            ),
            422,
            "validation_failed",
        )
        assert "No spreadsheet has the key" in error["message"]
        assert_error(
            client.get(f"/api/v1/betas/{beta.key}/sheet", headers=headers), 404, "not_found"
        )
        assert_error(
            client.put(
                "/api/v1/betas/nope/sheet", json={"spreadsheet": SPREADSHEET}, headers=headers
            ),
            404,
            "not_found",
        )


def test_the_api_without_credentials_answers_409(db, client, beta, pm, bearer, unchanged):
    headers = bearer(pm, ("betas:write",))
    with unchanged():
        error = assert_error(
            client.put(
                f"/api/v1/betas/{beta.key}/sheet",
                json={"spreadsheet": SPREADSHEET},
                headers=headers,
            ),
            409,
            "conflict",
        )
    assert "SHIPCALL_GOOGLE_CREDENTIALS" in error["message"]


def test_the_commands_link_a_sheet_and_sync_it(db, runner, beta, pm, acme, fake, sheets, make_user):
    make_user(Role.ADMIN)
    fake.add_spreadsheet(SPREADSHEET, shared_with=sheets.email)
    result = runner.invoke(args=["feedback", "link-sheet", beta.key, SHEET_URL])
    assert result.exit_code == 0, result.output
    assert "linked to the spreadsheet" in result.output
    log.log(db, Actor(pm), beta, account="acme", original="Hi.", types=TYPES)
    db.commit()

    result = runner.invoke(args=["feedback", "sync"])

    assert result.exit_code == 0, result.output
    assert f"{beta.key}: 1 added, 0 updated" in result.output


def test_the_commands_refuse_bad_input(
    db, runner, beta, make_user, fake, sheet_settings, unchanged
):
    make_user(Role.ADMIN)
    with unchanged():
        result = runner.invoke(args=["feedback", "link-sheet", beta.key, "not a sheet"])
        assert result.exit_code == 1 and "Give the spreadsheet" in result.output
        result = runner.invoke(args=["feedback", "link-sheet", "nope", SPREADSHEET])
        assert result.exit_code != 0
        result = runner.invoke(
            args=["feedback", "link-sheet", beta.key, SPREADSHEET, "--user", "x@y.z"]
        )
        assert result.exit_code == 1 and "no user" in result.output


def test_the_sync_command_without_credentials_says_how_to_configure(runner):
    result = runner.invoke(args=["feedback", "sync"])
    assert result.exit_code == 1 and "SHIPCALL_GOOGLE_CREDENTIALS" in result.output


def test_settling_a_conflict_with_neither_side_changes_nothing(
    db, client, login, post, pm, beta, acme, linked, fake, run_sync, unchanged
):
    item = log.log(db, Actor(pm), beta, account="acme", original="Hi.", types=TYPES, summary="A")
    run_sync()
    rows = fake.sheet(SPREADSHEET).rows
    rows[1][rows[0].index("summary")] = "B"
    log.edit(db, Actor(pm), item, {"summary": "C"}, types=TYPES)
    db.flush()
    run_sync()
    from feedback.models import SheetConflict

    conflict = db.scalar(select(SheetConflict))
    login(pm)
    with unchanged():
        response = post(f"/feedback/conflicts/{conflict.id}", {"side": "both"})
    assert response.status_code == 302
    assert "Choose which value to keep" in client.get(response.location).get_data(as_text=True)


@pytest.fixture
def outside_transactions(monkeypatch):
    """Record, at each check of a spreadsheet, whether the door's session had a transaction open.

    Google's requests may take seconds with their retries; on SQLite an open write transaction
    would keep every other writer waiting all along.
    """
    seen = []
    check = sheet_links.check_sheet

    def checking(spreadsheet, sheets):
        seen.append(get_session().in_transaction())
        return check(spreadsheet, sheets)

    monkeypatch.setattr(sheet_links, "check_sheet", checking)
    return seen


@pytest.mark.parametrize("door", ["page", "api", "command"])
def test_every_door_asks_google_with_no_transaction_open(
    db, client, login, post, runner, beta, pm, bearer, fake, sheets, outside_transactions, door
):
    fake.add_spreadsheet(SPREADSHEET, shared_with=sheets.email)
    if door == "page":
        login(pm)
        assert post(f"/betas/{beta.key}/sheet/link", {"spreadsheet": SHEET_URL}).status_code == 302
    elif door == "api":
        headers = bearer(pm, ("betas:write",))
        body = {"spreadsheet": SHEET_URL}
        response = client.put(f"/api/v1/betas/{beta.key}/sheet", json=body, headers=headers)
        assert response.status_code == 200
    else:
        args = ["feedback", "link-sheet", beta.key, SHEET_URL, "--user", pm.email]
        assert runner.invoke(args=args).exit_code == 0
    assert outside_transactions == [False]
    assert db.scalar(select(SheetLink)).spreadsheet_id == SPREADSHEET
