"""Files people open in a spreadsheet: CSV written a line at a time, cells never formulas."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

# A cell starting with one of these runs as a formula in spreadsheets.
FORMULA_STARTS = ("=", "+", "-", "@")


def safe_cell(value: str) -> str:
    """Quote a CSV cell as text when it would run as a formula in a spreadsheet (= + - @)."""
    return "'" + value if value[:1] in FORMULA_STARTS else value


def csv_lines(rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """Yield each row as a line of CSV, so that a response streams instead of building a file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
