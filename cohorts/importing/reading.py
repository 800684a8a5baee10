"""Read an uploaded file: UTF-8 with or without a BOM, CSV or JSON Lines, streamed line by line.

Tells JSON Lines from CSV by the first bytes, sniffs the CSV delimiter (commas, semicolons or
tabs), yields CSV rows numbered as a spreadsheet numbers them and JSON lines by line number, and
opens a file as its records (`open_file`) or shows the first of them (`preview`).
"""

from __future__ import annotations

import csv
import enum
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from cohorts.importing.checks import (
    Record,
    _accounts_from_table,
    _conversations_from_table,
    _records_from_json,
    _Table,
)
from cohorts.importing.mapping import Kind, _header, resolve_mapping
from cohorts.importing.problems import MAX_PROBLEMS, ImportFailed, Place, Problem

SNIFF_BYTES = 16 * 1024
DELIMITERS = ",;\t"
BOM = b"\xef\xbb\xbf"
PROGRESS_BYTES = 1024 * 1024


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
    """An opened file: its format, its columns and their mapping (CSV), and its records."""

    format: FileFormat
    columns: list[str]
    mapping: dict[str, str]
    problems: list[Problem]
    records: Iterator[Record | Problem]


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
        return Source(file_format, [], {}, problems, _records_from_json(kind, _json_lines(lines)))
    rows = _csv_rows(lines, sniff_delimiter(head))
    first = next(rows, None)
    if first is None:
        raise ImportFailed([Problem("the file is empty")])
    if isinstance(first, Problem):
        raise ImportFailed([first])
    columns, problems = _header(first[1])
    mapping, mapping_problems = resolve_mapping(kind, columns, chosen or {})
    problems += mapping_problems
    table = _Table(columns, mapping, rows)
    records = (
        _accounts_from_table(table) if kind is Kind.ACCOUNTS else _conversations_from_table(table)
    )
    return Source(file_format, columns, mapping, problems, records)


@dataclass
class Preview:
    """The first records of a file as they would be imported, and the problems among them."""

    format: FileFormat
    columns: list[str]
    mapping: dict[str, str]
    records: list[Record]
    problems: list[Problem]


def preview(
    stream: BinaryIO, kind: Kind, chosen: Mapping[str, str] | None = None, limit: int = 10
) -> Preview:
    """Read the first `limit` records of a file without importing anything."""
    try:
        source = open_file(stream, kind, chosen)
    except ImportFailed as exc:
        return Preview(FileFormat.CSV, [], {}, [], exc.problems)
    records: list[Record] = []
    problems = list(source.problems)
    if not problems:
        for item in source.records:
            if isinstance(item, Problem):
                problems.append(item)
            else:
                records.append(item)
            if len(records) >= limit or len(problems) >= MAX_PROBLEMS:
                break
    return Preview(source.format, source.columns, source.mapping, records, problems)
