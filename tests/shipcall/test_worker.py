"""The worker: its periodic jobs, the spreadsheet sync and the deadline reminders."""

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, select

from betas import lifecycle
from betas.audit import Actor
from betas.models import ReminderSent, Role
from feedback import log
from feedback.sheet_links import check_sheet, link_sheet
from shipcall import worker

SPREADSHEET = "1WorkerSheetKey0123456789"


def test_the_worker_syncs_the_sheets_of_betas_with_pending_changes(
    app, db, running_beta, make_user, make_account, fake, sheets, capsys
):
    pm = make_user(Role.PM)
    beta = running_beta(owner=pm)
    make_account("acme", "Acme")
    fake.add_spreadsheet(SPREADSHEET, shared_with=sheets.email)
    link_sheet(db, Actor(pm), beta, check_sheet(SPREADSHEET, sheets))
    item = log.log(db, Actor(pm), beta, account="acme", original="Hi.", types=("praise",))
    db.flush()

    worker.run(app, worker.jobs(), once=True)

    rows = fake.sheet(SPREADSHEET).values()
    assert rows[1][0] == str(item.id)
    assert f"sheets: {beta.key}: 1 added" in capsys.readouterr().out


def test_a_failing_job_is_reported_and_the_others_still_run(app, capsys):
    ran = []

    def broken(_app):
        raise RuntimeError("boom")

    jobs = [worker.Job("broken", 5, broken), worker.Job("fine", 5, lambda _a: ran.append(1) or [])]
    worker.run(app, jobs, once=True)

    assert ran == [1] and "broken failed" in capsys.readouterr().err


def test_without_credentials_the_worker_says_so_and_syncs_nothing(runner):
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0 and "no sheet is synced" in result.output


def test_the_worker_sends_the_reminders_due_once_a_day(app, db, running_beta, smtp_server):
    inbox = smtp_server()
    today = lifecycle.today_in(app.config["SHIPCALL"].zone)
    beta = running_beta(deadline=today + timedelta(days=7))
    before = app.config["SHIPCALL"]
    app.config["SHIPCALL"] = replace(before, smtp_url=inbox.url)
    try:
        worker.run(app, worker.jobs(), once=True)
        worker.run(app, worker.jobs(), once=True)
    finally:
        app.config["SHIPCALL"] = before

    assert [m["To"] for m in inbox.messages] == [beta.owner.email]
    assert f"/betas/{beta.key}/review" in inbox.messages[0].get_content()


def test_without_smtp_the_worker_sends_no_reminder(app, db, running_beta, runner):
    today = lifecycle.today_in(app.config["SHIPCALL"].zone)
    running_beta(deadline=today + timedelta(days=7))
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0 and "no reminder is sent" in result.output
    assert db.scalar(select(func.count()).select_from(ReminderSent)) == 0
