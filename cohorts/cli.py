"""Commands for cohorts: `cohorts import-accounts` and `cohorts import-conversations`.

Each import that goes through is recorded in the import history, run from the "command line".
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from betas import clikit
from cohorts.importing import FIELDS, Kind, Origin, import_file

cohorts_cli = AppGroup("cohorts", help="Import accounts and conversations.")

FILE = click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))


def _map_option(kind: Kind):
    fields = ", ".join(FIELDS[kind])
    return click.option(
        "--map",
        "maps",
        multiple=True,
        metavar="COLUMN=FIELD",
        help=f"Say what a CSV column holds (repeatable); others are guessed. Fields: {fields}.",
    )


def _import(kind: Kind, path: Path, maps: tuple[str, ...]) -> None:
    """Import the file in one transaction, with a progress bar; list the problems on failure."""
    chosen = clikit.column_map(maps)
    progress = click.progressbar(
        length=path.stat().st_size,
        label=f"Importing {kind.value}",
        file=sys.stderr,
    )

    def run(session):
        with path.open("rb") as stream, progress as bar:
            return import_file(
                session,
                stream,
                kind,
                chosen,
                progress=bar.update,
                origin=Origin.command_line(path.name),
            )

    result = clikit.commit(run, explain=lambda exc: getattr(exc, "problems", ()))
    click.echo(str(result))


@cohorts_cli.command("import-accounts")
@FILE
@_map_option(Kind.ACCOUNTS)
def import_accounts(file: Path, maps: tuple[str, ...]) -> None:
    """Create or update accounts from a CSV or JSON Lines FILE, all or nothing.

    Accounts are matched by external_id: the name is replaced and the attributes merged. Every
    column that is not the id or the name is kept as an attribute.
    """
    _import(Kind.ACCOUNTS, file, maps)


@cohorts_cli.command("import-conversations")
@FILE
@_map_option(Kind.CONVERSATIONS)
def import_conversations(file: Path, maps: tuple[str, ...]) -> None:
    """Create or replace conversations from a CSV or JSON Lines FILE, all or nothing.

    A CSV file has one row per part; a conversation already imported gets the file's tags and
    parts instead of its own. Import the accounts first.
    """
    _import(Kind.CONVERSATIONS, file, maps)


def init_app(app: Flask) -> None:
    """Register the command group."""
    app.cli.add_command(cohorts_cli)
