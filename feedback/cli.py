"""Commands for feedback: `feedback import` (a sheet kept by hand), `link-sheet` and `sync`."""

from __future__ import annotations

import time
import traceback
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from betas import clikit, lifecycle
from betas.audit import Actor
from betas.auth import users
from betas.auth.permissions import require_edit
from betas.db import end_reads, get_database, get_session, utcnow
from betas.models import Beta, Role, User
from betas.wording import plural
from cohorts.importing import Origin
from feedback import importing, sheet_links, sync
from feedback.sheets import Sheets, SheetsError

feedback_cli = AppGroup(
    "feedback", help="Bring feedback into a beta; link feedback spreadsheets and keep them in sync."
)


@feedback_cli.command("import")
@click.argument("beta")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="COLUMN=FIELD",
    help=(
        "Say what a column holds (repeatable); others are guessed. Fields: "
        f"{', '.join(importing.FIELDS.labels)}."
    ),
)
def import_feedback(beta: str, file: Path, maps: tuple[str, ...]) -> None:
    """Log every row of a CSV or XLSX FILE as feedback of the BETA (its key), all or nothing.

    Columns: original, type, summary, reason, account (its id or name), date, and source.
    """
    settings = current_app.config["SHIPCALL"]
    chosen = clikit.column_map(maps)

    def run(session):
        found = lifecycle.get_beta(session, beta)
        with file.open("rb") as stream:
            return importing.import_feedback(
                session,
                None,
                found,
                stream,
                chosen,
                types=settings.feedback_types,
                zone=settings.zone,
                now=utcnow(),
                origin=Origin.command_line(file.name),
            )

    result = clikit.commit(run, explain=lambda exc: getattr(exc, "problems", ()))
    click.echo(f"Imported {plural(result.created, 'feedback item')} into {beta}.")


def connect() -> Sheets:
    """Connect to Google Sheets as the configured service account, or end the command."""
    try:
        return Sheets.from_settings(current_app.config["SHIPCALL"])
    except SheetsError as exc:
        raise click.ClickException(
            f"{exc.message} Set it to the path of a service account's key file."
        ) from None


def _acting_user(email: str | None) -> User:
    session = get_session()
    if email:
        user = users.find_user(session, email)
        if user is None:
            raise click.ClickException(f"There is no user with the email {email}.")
        return user
    user = session.scalar(
        select(User).where(User.role == Role.ADMIN, User.is_active.is_(True)).order_by(User.id)
    )
    if user is None:
        raise click.ClickException("Create an admin first: flask --app wsgi users create")
    return user


def _checked(
    session, user: User, beta: Beta, spreadsheet: str, sheets: Sheets
) -> sheet_links.Checked:
    """Check the user may link, then the spreadsheet, with no transaction open meanwhile."""
    require_edit(user, beta)
    end_reads(session)
    return sheet_links.check_sheet(spreadsheet, sheets)


@feedback_cli.command("link-sheet")
@click.argument("beta")
@click.argument("spreadsheet")
@click.option(
    "--user", "email", help="Who links it: the beta's owner or an admin (default: the first admin)."
)
def link_sheet(beta, spreadsheet, email):
    """Link BETA to SPREADSHEET (its link or key), after checking access; write its header."""
    user = _acting_user(email)
    sheets = connect()
    found = lifecycle.get_beta(get_session(), beta)
    checked = clikit.commit(lambda s: _checked(s, user, found, spreadsheet, sheets))
    link = clikit.commit(lambda s: sheet_links.link_sheet(s, Actor(user), found, checked))
    click.echo(
        f"{found.key} is linked to the spreadsheet {link.spreadsheet_id}, worksheet "
        f"'{link.worksheet}'; the next sync writes its feedback there."
    )


@feedback_cli.command("sync")
@click.option("--watch", is_flag=True, help="Keep syncing, every few seconds, until stopped.")
@click.option(
    "--every", "interval", default=5.0, show_default=True, help="Seconds between passes (--watch)."
)
def sync_command(watch, interval):
    """Write pending feedback to each linked sheet and take back people's edits.

    Once, it syncs every linked beta and prints what it did for each; with --watch it syncs the
    betas due, again and again. Several watchers may run: each beta is synced by one at a time.
    """
    settings = current_app.config["SHIPCALL"]
    sheets = connect()
    database = get_database()
    if not watch:
        reports = sync.run_pass(database, sheets, settings, every=True)
        for report in reports:
            click.echo(report.said())
        if not reports:
            click.echo("No beta has a linked spreadsheet yet.")
        if any(report.error for report in reports):
            raise SystemExit(1)
        return
    while True:
        try:
            for report in sync.run_pass(database, sheets, settings):
                click.echo(report.said())
        except Exception:  # noqa: BLE001 - reported; the next pass tries again
            click.echo(f"The sync pass failed:\n{traceback.format_exc()}", err=True)
        time.sleep(interval)


def init_app(app: Flask) -> None:
    """Register the command group."""
    app.cli.add_command(feedback_cli)
