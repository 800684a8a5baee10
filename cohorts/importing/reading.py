"""Read an uploaded file: UTF-8 with or without a BOM, CSV or JSON Lines, streamed line by line.

Tells JSON Lines from CSV by the first bytes, sniffs the CSV delimiter (commas, semicolons or
tabs), yields CSV rows numbered as a spreadsheet numbers them and JSON lines by line number, and
opens a file as its records (`open_file`), counting its rows as they are read.
"""

from __future__ import annotations

import csv
import enum
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO, TypeVar

from cohorts.importing.checks import (
    Record,
    _accounts_from_table,
    _conversations_from_table,
    _records_from_json,
    _Table,
)
from cohorts.importing.mapping import Kind, _header, resolve_mapping
from cohorts.importing.problems import ImportFailed, Place, Problem

SNIFF_BYTES = 16 * 1024
DELIMITERS = ",;\t"
BOM = b"\xef\xbb\xbf"
PROGRESS_BYTES = 1024 * 1024
T = TypeVar("T")


class FileFormat(enum.StrEnum):
    """How a file is written."""

    CSV = "csv"
    JSON_LINES = "jsonl"


class _NotUtf8(Exception):
    """A line of the file is not UTF-8."""

    def __init__(self, line: int):
        super().__init__(line)
        self.line = line


def _decoded_lines(stream: BinaryIO, progress: Callable[[int], object] | None) -> Iterator[str]:
    """Yield the lines of a binary stream as text, without a BOM, reporting bytes read."""
    unreported = 0
    for number, raw in enumerate(stream, 1):
        if number == 1:
            raw = raw.removeprefix(BOM)
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _NotUtf8(number) from None
        if progress is not None:
            unreported += len(raw)
            if unreported >= PROGRESS_BYTES:
                progress(unreported)
                unreported = 0
        yield line
    if progress is not None and unreported:
        progress(unreported)


def _not_utf8(exc: _NotUtf8, unit: str) -> Problem:
    return Problem(
        f"the file is not UTF-8 (near {unit} {exc.line}): save it as UTF-8 and try again"
    )


def detect_format(head: bytes) -> FileFormat:
    """Tell JSON Lines (a line starts with "{") from CSV by the first bytes of a file."""
    start = head.removeprefix(BOM).lstrip()
    if not start:
        raise ImportFailed([Problem("the file is empty")])
    if start.startswith(b"["):
        raise ImportFailed(
            [Problem("this is a JSON array: save one JSON object per line (JSON Lines) instead")]
        )
    return FileFormat.JSON_LINES if start.startswith(b"{") else FileFormat.CSV


def sniff_delimiter(head: bytes) -> str:
    """Find whether the file separates cells with commas, semicolons or tabs."""
    text = head.removeprefix(BOM).decode("utf-8", errors="ignore")
    # Sniff complete lines only: a cut line looks inconsistent.
    sample = text[: text.rfind("\n") + 1] or text
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = sample.partition("\n")[0]
        return max(DELIMITERS, key=header.count) if any(d in header for d in DELIMITERS) else ","


def _csv_rows(lines: Iterator[str], delimiter: str) -> Iterator[tuple[int, list[str]] | Problem]:
    """Yield (row number, cells) with the header as row 1, as a spreadsheet numbers rows."""
    reader = csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True)
    number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except _NotUtf8 as exc:
            yield _not_utf8(exc, "row")
            return
        except csv.Error as exc:
            yield Problem(f"cannot read this row as CSV: {exc}", row=number + 1)
            return
        number += 1
        yield number, cells


def _json_lines(lines: Iterator[str]) -> Iterator[tuple[Place, object] | Problem]:
    """Yield (place, value) for each non-blank line of JSON Lines."""
    number = 0
    while True:
        try:
            line = next(lines)
        except StopIteration:
            return
        except _NotUtf8 as exc:
            yield _not_utf8(exc, "line")
            return
        number += 1
        if not line.strip():
            continue
        place = Place(row=number, unit="line")
        try:
            yield place, json.loads(line)
        except ValueError as exc:
            yield place.whole(f"not valid JSON ({exc}); write one JSON object per line")


@dataclass
class Source:
    """An opened file: its format, its columns and their mapping (CSV), and its records.

    `rows` counts the rows after the header (CSV) or the lines (JSON Lines) that hold something,
    as the records are read: once they all are, it is the file's.
    """

    format: FileFormat
    columns: list[str]
    mapping: dict[str, str]
    problems: list[Problem]
    records: Iterator[Record | Problem]
    rows: int = 0

    @property
    def unit(self) -> str:
        """Return what the file is made of: rows (CSV) or lines (JSON Lines)."""
        return "line" if self.format is FileFormat.JSON_LINES else "row"


def _counted(source: Source, items: Iterator[T], holds: Callable[[T], bool]) -> Iterator[T]:
    """Yield the items, counting in `source.rows` those that hold something."""
    for item in items:
        if holds(item):
            source.rows += 1
        yield item


def _is_row(item: tuple[int, list[str]] | Problem) -> bool:
    # A row that cannot be read is a row; a file that is not UTF-8 is not one.
    return item.row is not None if isinstance(item, Problem) else any(item[1])


def _is_line(item: tuple[Place, object] | Problem) -> bool:
    return item.row is not None if isinstance(item, Problem) else True


def open_file(
    stream: BinaryIO,
    kind: Kind,
    chosen: Mapping[str, str] | None = None,
    progress: Callable[[int], object] | None = None,
) -> Source:
    """Open a seekable binary file; its problems so far (header, mapping) are in `problems`.

    `chosen` maps some CSV columns to fields; the others are guessed. JSON Lines files use the
    documented keys and take no mapping.
    """
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    file_format = detect_format(head)
    lines = _decoded_lines(stream, progress)
    if file_format is FileFormat.JSON_LINES:
        problems = []
        if chosen:
            problems.append(
                Problem("column mappings apply to CSV files; JSON Lines use the documented keys")
            )
        source = Source(file_format, [], {}, problems, iter(()))
        source.records = _records_from_json(kind, _counted(source, _json_lines(lines), _is_line))
        return source
    rows = _csv_rows(lines, sniff_delimiter(head))
    first = next(rows, None)
    if first is None:
        raise ImportFailed([Problem("the file is empty")])
    if isinstance(first, Problem):
        raise ImportFailed([first])
    columns, problems = _header(first[1])
    mapping, mapping_problems = resolve_mapping(kind, columns, chosen or {})
    problems += mapping_problems
    source = Source(file_format, columns, mapping, problems, iter(()))
    table = _Table(columns, mapping, _counted(source, rows, _is_row))
    source.records = (
        _accounts_from_table(table) if kind is Kind.ACCOUNTS else _conversations_from_table(table)
    )
    return source
