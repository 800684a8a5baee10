"""Commands for cohorts: `cohorts import-accounts` and `cohorts import-conversations`."""

from __future__ import annotations

from flask import Flask
from flask.cli import AppGroup

cohorts_cli = AppGroup("cohorts", help="Import accounts and conversations.")


def init_app(app: Flask) -> None:
    """Register the command group."""
    app.cli.add_command(cohorts_cli)
