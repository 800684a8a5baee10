"""Commands for the feedback spreadsheet: `feedback link-sheet` and `feedback sync`."""

from __future__ import annotations

import time
import traceback

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from betas import clikit, lifecycle
from betas.audit import Actor
from betas.auth import users
from betas.db import get_database, get_session
from betas.models import Role, User
from feedback import sheet_links, sync
from feedback.sheets import Sheets, SheetsError

feedback_cli = AppGroup("feedback", help="Link feedback spreadsheets and keep them in sync.")


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
    link = clikit.commit(
        lambda s: sheet_links.link_sheet(s, Actor(user), found, spreadsheet, sheets)
    )
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
