"""The command kit: how a command runs one service call and commits, as pages and the API do.

A refusal is rolled back and becomes the command's error (exit status 1, its message on standard
error), with the lines that explain it listed first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import click
from sqlalchemy.orm import Session

from betas.db import get_session
from betas.errors import DomainError

T = TypeVar("T")


def commit(
    change: Callable[[Session], T],
    explain: Callable[[DomainError], Iterable[object]] = lambda _exc: (),
) -> T:
    """Run one service call in the command's session and commit; return what it returned."""
    session = get_session()
    try:
        value = change(session)
    except DomainError as exc:
        session.rollback()
        for line in explain(exc):
            click.echo(f"  {line}", err=True)
        raise click.ClickException(exc.message) from None
    session.commit()
    return value


def column_map(maps: Iterable[str]) -> dict[str, str]:
    """Read the COLUMN=FIELD pairs of an import's --map options; a column's name may hold '='."""
    chosen = {}
    for pair in maps:
        column, equals, name = pair.rpartition("=")
        if not equals or not column.strip() or not name.strip():
            raise click.BadParameter(f"'{pair}' is not COLUMN=FIELD.", param_hint="--map")
        chosen[column.strip()] = name.strip()
    return chosen
