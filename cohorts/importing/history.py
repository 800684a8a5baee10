"""The history of imports: who imported what, when, from which file, and what it changed.

An import records its run in its own transaction (see `writing.import_file`), so a run is listed
only once its rows are there, and a failed import leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from betas.audit import Actor
from cohorts.importing.mapping import Kind
from cohorts.models import FILE_NAME_MAX, ImportRun, ImportVia


@dataclass(frozen=True)
class Origin:
    """Who imports, and how: a user on the page, the command line, or a user's API token."""

    via: ImportVia
    actor: Actor | None = None
    file_name: str | None = None

    @classmethod
    def page(cls, actor: Actor, file_name: str | None) -> Origin:
        """Return the origin of a file a signed-in user uploaded on the import page."""
        return cls(ImportVia.PAGE, actor, file_name)

    @classmethod
    def command_line(cls, file_name: str) -> Origin:
        """Return the origin of a file imported by a `cohorts import-*` command."""
        return cls(ImportVia.COMMAND_LINE, None, file_name)

    @classmethod
    def api(cls, actor: Actor) -> Origin:
        """Return the origin of items sent to the JSON API with a user's token."""
        return cls(ImportVia.API, actor)


@dataclass(frozen=True)
class RunList:
    """The latest import runs, newest first, and how many there are in all."""

    runs: list[ImportRun]
    total: int


def _base_name(file_name: str | None) -> str | None:
    """Return a file's name without the folders some browsers send with it."""
    name = (file_name or "").replace("\\", "/").rpartition("/")[2].strip()
    return name[:FILE_NAME_MAX] or None


def record_run(
    session: Session, origin: Origin, kind: Kind | str, created: int, updated: int
) -> ImportRun:
    """Add the run of an import that went through to the history, and flush.

    `kind` names what was imported: a Kind, or another package's import (such as feedback).
    """
    actor = origin.actor
    run = ImportRun(
        kind=str(kind),
        via=origin.via,
        file_name=_base_name(origin.file_name),
        created=created,
        updated=updated,
        user=actor.user if actor else None,
        token=actor.token if actor else None,
    )
    session.add(run)
    session.flush()
    return run


def latest_runs(session: Session, limit: int = 20) -> RunList:
    """Return the latest `limit` import runs, newest first, with who ran them."""
    runs = session.scalars(
        select(ImportRun)
        .options(joinedload(ImportRun.user), joinedload(ImportRun.token))
        .order_by(ImportRun.id.desc())
        .limit(limit)
    ).all()
    total = session.scalar(select(func.count()).select_from(ImportRun)) or 0
    return RunList(list(runs), total)
