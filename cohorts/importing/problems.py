"""What is wrong with an import, and where: problems, their places, and the errors that refuse it.

A problem names a file's row (or line) and column, or an API item's field. Only the first
MAX_PROBLEMS are kept, to list them; all are counted. `ImportFailed` carries them to the pages, the
commands and the API; `TooMuch` refuses an import larger than one takes at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from betas.errors import DomainError
from betas.wording import plural

MAX_PROBLEMS = 50


@dataclass(frozen=True)
class Problem:
    """What is wrong, and where: a file's row (or line) and column, or an API item's field."""

    message: str
    row: int | None = None
    column: str | None = None
    field: str | None = None
    unit: str = "row"

    def __str__(self) -> str:
        if self.field is not None:
            return f"{self.field}: {self.message}"
        if self.row is None:
            return self.message
        where = f"{self.unit} {self.row}"
        if self.column:
            where += f", {'column' if self.unit == 'row' else 'key'} {self.column}"
        return f"{where}: {self.message}"

    def as_detail(self) -> dict[str, Any]:
        """Return the problem as the API and the pages list it."""
        if self.field is not None:
            return {"field": self.field, "message": self.message}
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass(frozen=True)
class Place:
    """Where a record came from, to say where its problems are."""

    row: int | None = None
    path: str = ""
    columns: Mapping[str, str] | None = None
    unit: str = "row"

    def problem(self, name: str, message: str) -> Problem:
        """Return a problem with the field `name` of this record."""
        if self.columns is not None:
            column = self.columns.get(name, name)
        else:
            column = f"{self.path}.{name}" if self.path else name
        if self.row is None:
            return Problem(message, field=column)
        return Problem(message, row=self.row, column=column, unit=self.unit)

    def whole(self, message: str) -> Problem:
        """Return a problem with the record as a whole."""
        if self.row is None:
            return Problem(message, field=self.path)
        return Problem(message, row=self.row, column=self.path or None, unit=self.unit)

    def child(self, key: str | int) -> Place:
        """Return the place of a value inside this record, e.g. parts.0."""
        return replace(self, path=f"{self.path}.{key}" if self.path else str(key))

    def __str__(self) -> str:
        return self.path if self.row is None else f"{self.unit} {self.row}"


class TooMuch(DomainError):
    """More than one import takes at once."""

    code = "too_large"
    status = 413


class ImportFailed(DomainError):
    """The file or request has problems; nothing was imported. Details list the first 50."""

    code = "import_failed"
    status = 422

    def __init__(self, problems: Sequence[Problem], total: int | None = None):
        total = len(problems) if total is None else total
        listed = list(problems[:MAX_PROBLEMS])
        message = f"Nothing was imported: {plural(total, 'problem')} found"
        if total > len(listed):
            message += f"; the first {len(listed)} are listed"
        super().__init__(message + ".", [p.as_detail() for p in listed])
        self.problems = listed
        self.total = total


class _Problems:
    """The first MAX_PROBLEMS problems, and how many there were in all."""

    def __init__(self) -> None:
        self.listed: list[Problem] = []
        self.total = 0

    def add(self, problem: Problem) -> None:
        self.total += 1
        if len(self.listed) < MAX_PROBLEMS:
            self.listed.append(problem)

    def __bool__(self) -> bool:
        return self.total > 0


def _shown(value: object, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
