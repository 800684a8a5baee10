"""The worker: its periodic jobs, the spreadsheet sync among them."""

from betas.audit import Actor
from betas.models import Role
from feedback import log
from feedback.sheet_links import link_sheet
from shipcall import worker

SPREADSHEET = "1WorkerSheetKey0123456789"


def test_the_worker_syncs_the_sheets_of_betas_with_pending_changes(
    app, db, running_beta, make_user, make_account, fake, sheets, capsys
):
    pm = make_user(Role.PM)
    beta = running_beta(owner=pm)
    make_account("acme", "Acme")
    fake.add_spreadsheet(SPREADSHEET, shared_with=sheets.email)
    link_sheet(db, Actor(pm), beta, SPREADSHEET, sheets)
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
