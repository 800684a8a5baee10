"""Preview a file before importing it: every row checked as the import checks it, nothing written.

The whole file is streamed through the import's own reading, checks and writers, the writers only
checking (an unknown account, an id listed twice...) and counting what would be created or
updated; the first records are kept to show. So the preview finds every problem the import would,
and says how many rows and records the file holds, before anyone presses Import.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

from sqlalchemy.orm import Session

from betas.wording import plural
from cohorts.importing.checks import ConversationRecord, Record
from cohorts.importing.mapping import Kind
from cohorts.importing.problems import ImportFailed, Problem
from cohorts.importing.reading import FileFormat, open_file
from cohorts.importing.writing import ImportResult, check_records


@dataclass
class Preview:
    """A file as its import would see it: the first records, the counts, and every problem.

    `checked` tells whether the rows were read: a file whose header or mapping is wrong is not
    read further, as its import would not be.
    """

    kind: Kind
    format: FileFormat
    columns: list[str]
    mapping: dict[str, str]
    problems: list[Problem]
    total_problems: int
    checked: bool = False
    records: list[Record] = field(default_factory=list)
    rows: int = 0
    found: int = 0
    parts: int = 0
    result: ImportResult | None = None

    @property
    def unit(self) -> str:
        """Return what the file is made of: rows (CSV) or lines (JSON Lines)."""
        return "line" if self.format is FileFormat.JSON_LINES else "row"

    @property
    def noun(self) -> str:
        """Return what one record is: an account or a conversation."""
        return "account" if self.kind is Kind.ACCOUNTS else "conversation"

    @property
    def blocked(self) -> str:
        """Say why the file cannot be imported as it is, or '' when it can."""
        return blocked_reason(self.total_problems, self.found, self.kind.value)


def blocked_reason(total_problems: int, found: int, holds: str) -> str:
    """Say why a previewed file cannot be imported as it is, or '' when it can.

    `holds` names what it should hold, in the plural: accounts, feedback...
    """
    if total_problems:
        return (
            f"fix the {plural(total_problems, 'problem')} listed above first: a file with any "
            "problem imports nothing"
        )
    if not found:
        return f"the file holds no {holds}, so there is nothing to import"
    return ""


def _kept(
    records: Iterable[Record | Problem], preview: Preview, limit: int
) -> Iterator[Record | Problem]:
    """Yield the records, counting them and their parts, and keeping the first `limit`."""
    for item in records:
        if not isinstance(item, Problem):
            preview.found += 1
            if isinstance(item, ConversationRecord):
                preview.parts += len(item.parts)
            if len(preview.records) < limit:
                preview.records.append(item)
        yield item


def preview(
    session: Session,
    stream: BinaryIO,
    kind: Kind,
    chosen: Mapping[str, str] | None = None,
    limit: int = 10,
) -> Preview:
    """Check every row of a file as its import would, write nothing, and keep the first records."""
    try:
        source = open_file(stream, kind, chosen)
    except ImportFailed as exc:
        return Preview(kind, FileFormat.CSV, [], {}, exc.problems, exc.total)
    shown = Preview(
        kind, source.format, source.columns, source.mapping, source.problems, len(source.problems)
    )
    if source.problems:
        return shown
    shown.result, problems = check_records(session, kind, _kept(source.records, shown, limit))
    # Listed by row: the checks against the database come after the rows of a whole batch.
    shown.problems = sorted(problems.listed, key=lambda p: p.row or 0)
    shown.total_problems = problems.total
    shown.checked, shown.rows = True, source.rows
    return shown
