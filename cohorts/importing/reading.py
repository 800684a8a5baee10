"""Read an uploaded file: UTF-8 CSV or JSON Lines line by line, an XLSX sheet row by row.

CSV and JSON Lines may start with a BOM. Tells JSON Lines from CSV, and an XLSX workbook from
both, by the first bytes; sniffs the CSV delimiter (commas, semicolons or tabs); yields a
table's rows numbered as a spreadsheet numbers them and JSON lines by line number; reads a
table's header and maps its columns (`read_table`, for any `FieldSet`); and opens a file as its
records (`open_file`), counting its rows as they are read.
"""

from __future__ import annotations

import csv
import enum
import json
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import BinaryIO, TypeVar

import openpyxl

from cohorts.importing.checks import (
    Record,
    _accounts_from_table,
    _conversations_from_table,
    _records_from_json,
    _Table,
)
from cohorts.importing.mapping import FIELD_SETS, FieldSet, Kind, read_header, resolve_columns
from cohorts.importing.problems import ImportFailed, Place, Problem

SNIFF_BYTES = 16 * 1024
DELIMITERS = ",;\t"
BOM = b"\xef\xbb\xbf"
XLSX_MAGIC = b"PK\x03\x04"  # a workbook is a zip archive
PROGRESS_BYTES = 1024 * 1024
T = TypeVar("T")


class FileFormat(enum.StrEnum):
    """How a file is written."""

    CSV = "csv"
    JSON_LINES = "jsonl"
    XLSX = "xlsx"


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


def _cell_text(value: object) -> str:
    """Return a workbook cell as the text a CSV export would hold.

    A date (a time at midnight, as spreadsheets store dates) reads as the date alone; a whole
    number typed as 12.0 reads as 12.
    """
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _xlsx_rows(stream: BinaryIO) -> Iterator[tuple[int, list[str]] | Problem]:
    """Yield (row number, cells) of a workbook's first sheet, streamed; cached formula values."""
    try:
        workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        yield Problem(f"cannot read this file as an XLSX workbook ({exc}); save it again as .xlsx")
        return
    try:
        # A read-only sheet yields every row, blank ones too, so the count is the sheet's.
        for number, values in enumerate(workbook.worksheets[0].iter_rows(values_only=True), 1):
            cells = [_cell_text(v) for v in values]
            while cells and not cells[-1]:
                cells.pop()
            yield number, cells
    finally:
        workbook.close()


@dataclass
class Table:
    """A CSV file or a workbook's sheet: its columns, their fields, its problems, its rows.

    `rows` yields the rows after the header, numbered as a spreadsheet numbers them.
    """

    format: FileFormat
    columns: list[str]
    mapping: dict[str, str]
    problems: list[Problem]
    rows: Iterator[tuple[int, list[str]] | Problem]


def read_table(
    stream: BinaryIO,
    fields: FieldSet,
    chosen: Mapping[str, str] | None = None,
    progress: Callable[[int], object] | None = None,
) -> Table:
    """Open a seekable CSV or XLSX file, read its header and map its columns to `fields`.

    `chosen` maps some columns to fields; the others are guessed. Refuses (ImportFailed) a file
    that is empty, JSON, or whose first row cannot be read; the header's and the mapping's
    problems are in `problems`. `progress` hears of the bytes of a CSV file as they are read.
    """
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    if head.startswith(XLSX_MAGIC):
        file_format, rows = FileFormat.XLSX, _xlsx_rows(stream)
    else:
        if detect_format(head) is FileFormat.JSON_LINES:
            raise ImportFailed([Problem("this is JSON: save the table as CSV or XLSX instead")])
        lines = _decoded_lines(stream, progress)
        file_format, rows = FileFormat.CSV, _csv_rows(lines, sniff_delimiter(head))
    first = next(rows, None)
    if first is None:
        raise ImportFailed([Problem("the file is empty")])
    if isinstance(first, Problem):
        raise ImportFailed([first])
    columns, problems = read_header(first[1])
    mapping, mapping_problems = resolve_columns(fields, columns, chosen or {})
    return Table(file_format, columns, mapping, problems + mapping_problems, rows)


def open_file(
    stream: BinaryIO,
    kind: Kind,
    chosen: Mapping[str, str] | None = None,
    progress: Callable[[int], object] | None = None,
) -> Source:
    """Open a seekable binary file; its problems so far (header, mapping) are in `problems`.

    `chosen` maps some columns of a table (CSV or XLSX) to fields; the others are guessed. JSON
    Lines files use the documented keys and take no mapping.
    """
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    if not head.startswith(XLSX_MAGIC) and detect_format(head) is FileFormat.JSON_LINES:
        problems = []
        if chosen:
            problems.append(
                Problem("column mappings apply to CSV files; JSON Lines use the documented keys")
            )
        source = Source(FileFormat.JSON_LINES, [], {}, problems, iter(()))
        lines = _decoded_lines(stream, progress)
        source.records = _records_from_json(kind, _counted(source, _json_lines(lines), _is_line))
        return source
    table = read_table(stream, FIELD_SETS[kind], chosen, progress)
    source = Source(table.format, table.columns, table.mapping, table.problems, iter(()))
    rows = _Table(table.columns, table.mapping, _counted(source, table.rows, _is_row))
    source.records = (
        _accounts_from_table(rows) if kind is Kind.ACCOUNTS else _conversations_from_table(rows)
    )
    return source
