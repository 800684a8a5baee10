"""Commands for usage events: `usage import-events` and `usage rebuild`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from betas import clikit
from betas.db import get_session
from usage import events, rollup

usage_cli = AppGroup("usage", help="Import usage events and rebuild their daily rollup.")


def _problem(detail: dict) -> str:
    """Say where a problem of the file is: "line 12: occurred_at: ..."."""
    field = f"{detail['field']}: " if detail["field"] else ""
    return f"line {detail['line']}: {field}{detail['message']}"


@usage_cli.command("import-events")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_events(file: Path) -> None:
    """Import usage events from a JSON Lines FILE (one event a line), all or nothing.

    The same fields and checks as POST /api/v1/events; events sent before are duplicates.
    """
    zone = current_app.config["SHIPCALL"].zone
    progress = click.progressbar(
        length=file.stat().st_size, label="Importing events", file=sys.stderr
    )

    def run(session):
        with file.open("rb") as stream, progress as bar:
            return events.import_file(session, stream, zone, progress=bar.update)

    result = clikit.commit(run, explain=lambda exc: [_problem(d) for d in exc.details])
    click.echo(str(result))


@usage_cli.command("rebuild")
def rebuild() -> None:
    """Count the daily rollup again from the raw events (after SHIPCALL_TIMEZONE changes)."""
    zone = current_app.config["SHIPCALL"].zone
    progress = click.progressbar(
        length=rollup.count_events(get_session()), label="Counting events", file=sys.stderr
    )

    def run(session):
        with progress as bar:
            return rollup.rebuild(session, zone, progress=bar.update)

    result = clikit.commit(run)
    click.echo(f"Rebuilt the rollup in {zone.key}: {result}.")


def init_app(app: Flask) -> None:
    """Register the command group."""
    app.cli.add_command(usage_cli)
