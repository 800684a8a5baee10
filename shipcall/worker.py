"""The worker: a short list of periodic jobs that run beside the web processes.

`flask --app wsgi worker` runs each job every so many seconds until stopped (`make run` starts
it beside gunicorn and stops it with it). Its jobs keep the feedback spreadsheets in sync and
send the reminders that are due (deadlines, checkpoints). A job that fails is reported and tried
again at its next turn: one job's trouble never stops the others.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from betas import lifecycle, reminders
from betas.db import get_database
from feedback import sync
from feedback.sheets import Sheets


@dataclass
class Job:
    """A periodic job: its name, how often it runs, and what it does (lines to print)."""

    name: str
    every: float
    run: Callable[[Flask], Sequence[str]]
    due_at: float = 0.0


class SheetSync:
    """Sync the spreadsheets of betas with pending changes, or not read for a while."""

    def __init__(self):
        self.sheets: Sheets | None = None  # one connection, its token renewed by google-auth

    def __call__(self, app: Flask) -> list[str]:
        """Run one pass; nothing when no Google credentials are configured."""
        settings = app.config["SHIPCALL"]
        if not settings.google_credentials:
            return []
        if self.sheets is None:
            self.sheets = Sheets.from_settings(settings)
        reports = sync.run_pass(get_database(), self.sheets, settings)
        return [report.said() for report in reports]


def send_reminders(app: Flask) -> list[str]:
    """Send the reminders due today; nothing without SMTP (`betas remind` shows them)."""
    settings = app.config["SHIPCALL"]
    if settings.smtp is None:
        return []
    with get_database().session() as session:
        report = reminders.send_due(session, settings, lifecycle.today_in(settings.zone))
    return [f"sent to {r.mail.to}: {r.mail.subject}" for r in report.sent] + [
        f"not sent to {r.mail.to}: {r.mail.subject} ({why}); the next turn tries again"
        for r, why in report.failed
    ]


def jobs() -> list[Job]:
    """Return the worker's jobs: reminders are due once a day, so a turn every minute is plenty."""
    return [Job("sheets", 5.0, SheetSync()), Job("reminders", 60.0, send_reminders)]


def run(app: Flask, jobs_: Sequence[Job], *, once: bool = False, tick: float = 1.0) -> None:
    """Run each job when due, forever (`once`: each job a single time)."""
    while True:
        now = time.monotonic()
        for job in jobs_:
            if job.due_at > now:
                continue
            job.due_at = now + job.every
            try:
                with app.app_context():
                    lines = job.run(app)
                for line in lines:
                    click.echo(f"{job.name}: {line}")
            except Exception:  # noqa: BLE001 - reported; the job runs again at its next turn
                click.echo(f"{job.name} failed:\n{traceback.format_exc()}", err=True)
        if once:
            return
        time.sleep(tick)


@click.command("worker")
@click.option("--once", is_flag=True, help="Run each job once, then stop.")
@with_appcontext
def worker_command(once):
    """Run the periodic jobs (the spreadsheet sync, the reminders) until stopped."""
    app = current_app._get_current_object()
    settings = app.config["SHIPCALL"]
    if not settings.google_credentials:
        click.echo("No Google credentials (SHIPCALL_GOOGLE_CREDENTIALS): no sheet is synced.")
    if settings.smtp is None:
        click.echo("No SMTP server (SHIPCALL_SMTP_URL): no reminder is sent.")
    run(app, jobs(), once=once)


def init_app(app: Flask) -> None:
    """Register the `worker` command."""
    app.cli.add_command(worker_command)
